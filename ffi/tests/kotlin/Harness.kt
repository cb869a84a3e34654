// Test support for the Kotlin bindings: a real relay process on 127.0.0.1:0 with Đồng Nai's
// demo organisation, a TCP proxy that can turn into a black hole, and a tiny check runner.

import java.io.File
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.concurrent.thread

/** A `giaoban-relay serve --demo` process and the enrolment codes it printed. */
class Relay(private val binary: String, dataDir: File) {
    private val env = mapOf(
        "GIAOBAN_RELAY_LISTEN" to "127.0.0.1:0",
        "GIAOBAN_RELAY_DATA_DIR" to dataDir.path,
        "RUST_LOG" to "warn",
    )
    private val process: Process
    val codes = CopyOnWriteArrayList<Pair<String, String>>()
    val url: String

    init {
        val pb = ProcessBuilder(binary, "serve", "--demo", "--demo-without-dispatch").redirectErrorStream(true)
        pb.environment().putAll(env)
        process = pb.start()
        val reader = process.inputStream.bufferedReader(Charsets.UTF_8)
        val codeLine = Regex("^  (.+?)\\s+([0-9A-Z]{5}-[0-9A-Z]{5})\\s*$")
        val urlLine = Regex("(http://127\\.0\\.0\\.1:\\d+)")
        var found: String? = null
        val output = StringBuilder()
        while (found == null) {
            val line = reader.readLine() ?: error("the relay stopped before serving:\n$output")
            output.appendLine(line)
            codeLine.find(line)?.let { codes.add(it.groupValues[1] to it.groupValues[2]) }
            found = urlLine.find(line)?.groupValues?.get(1)
        }
        url = found
        thread(isDaemon = true) { reader.forEachLine { } }
    }

    /** Runs an operator command on the same data folder while the relay serves. */
    fun admin(vararg args: String): String {
        val pb = ProcessBuilder(listOf(binary, "admin") + args).redirectErrorStream(true)
        pb.environment().putAll(env)
        val p = pb.start()
        val out = p.inputStream.bufferedReader(Charsets.UTF_8).readText()
        check(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) { "admin ${args.toList()} failed: $out" }
        return out
    }

    fun stop() {
        process.destroyForcibly().waitFor()
    }
}

/** Forwards 127.0.0.1:port to the relay; with [blackHole] set, requests are read but never
 *  answered, like a link that died mid-request: new connections are accepted and swallowed,
 *  and bytes arriving on a connection the library keeps open are dropped. */
class Proxy(private val upstreamPort: Int) {
    private val server = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    val url = "http://127.0.0.1:${server.localPort}"
    val blackHole = AtomicBoolean(false)
    val swallowed = AtomicInteger(0)

    init {
        thread(isDaemon = true) {
            while (!server.isClosed) {
                val client = try { server.accept() } catch (e: Exception) { break }
                if (blackHole.get()) {
                    swallowed.incrementAndGet()
                    thread(isDaemon = true) { runCatching { client.getInputStream().readAllBytes() } }
                    continue
                }
                val upstream = Socket(InetAddress.getLoopbackAddress(), upstreamPort)
                pump(client, upstream, request = true)
                pump(upstream, client, request = false)
            }
        }
    }

    private fun pump(from: Socket, to: Socket, request: Boolean) = thread(isDaemon = true) {
        runCatching {
            val input = from.getInputStream()
            val output = to.getOutputStream()
            val buffer = ByteArray(16 * 1024)
            var counted = false
            while (true) {
                val n = input.read(buffer)
                if (n < 0) break
                if (request && blackHole.get()) {
                    // A kept-alive connection goes dead too: the request never reaches the relay.
                    if (!counted) swallowed.incrementAndGet()
                    counted = true
                    continue
                }
                counted = false
                output.write(buffer, 0, n)
                output.flush()
            }
        }
        runCatching { to.shutdownOutput() }
    }
}

/** Named checks; the last line says "N passed, N failed". */
class Checks {
    private var passed = 0
    private var failed = 0

    fun run(name: String, body: () -> Unit) {
        val started = System.nanoTime()
        try {
            body()
            passed++
            println("ok      $name (${(System.nanoTime() - started) / 1_000_000} ms)")
        } catch (t: Throwable) {
            failed++
            println("FAILED  $name: $t")
            t.printStackTrace(System.out)
        }
    }

    fun finish(): Int {
        println("$passed passed, $failed failed")
        return if (failed == 0) 0 else 1
    }
}

fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}
