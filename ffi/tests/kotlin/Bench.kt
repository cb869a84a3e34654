// Per-call overhead of the Kotlin bindings: a simple call, fetching one task, listing 1,000
// tasks. Run by scripts/ffi-test.sh --bench (a short smoke run in CI with GIAOBAN_BENCH_SMOKE=1).

import java.io.File
import kotlinx.coroutines.runBlocking
import vn.giaoban.core.*

private fun report(name: String, samplesNs: LongArray) {
    samplesNs.sort()
    fun q(p: Double) = samplesNs[((samplesNs.size - 1) * p).toInt()] / 1000.0
    println(String.format("%-34s n=%-6d p50 %9.1f µs   p99 %9.1f µs", name, samplesNs.size, q(0.5), q(0.99)))
}

private inline fun measure(n: Int, body: () -> Unit): LongArray {
    val out = LongArray(n)
    for (i in 0 until n) {
        val t = System.nanoTime()
        body()
        out[i] = System.nanoTime() - t
    }
    return out
}

fun bench(relay: Relay, scratch: File) = runBlocking {
    val smoke = System.getenv("GIAOBAN_BENCH_SMOKE") == "1"
    val docs = if (smoke) 50 else 1000
    val rounds = if (smoke) 20 else 1000
    val city = GiaoBanStore.open(File(scratch, "bench-city.sqlite").path)
    city.enroll(relay.url, relay.codes[0].second, "Văn phòng tỉnh")
    val ward = provinceUnits("Đồng Nai")[1].id
    var first = ""
    for (i in 1..docs) {
        val id = city.issueDirective(dispatch305(listOf(ward)).copy(number = "$i/MTTQ-BTT"))
        if (i == 1) first = id
    }
    val all = TaskQuery(scope = TaskScope.IssuedByMe)
    check(city.listTasks(all).size == docs) { "expected $docs tasks" }
    // Warm up the JIT and the library's threads.
    repeat(200) { city.deviceId(); city.task(first, 1u, ward) }
    repeat(5) { city.listTasks(all) }

    println("Kotlin → Rust per-call overhead (${if (smoke) "smoke run" else "full run"}; $docs tasks)")
    report("simple call (deviceId, sync)", measure(rounds * 10) { city.deviceId() })
    report("sync status (syncStatus, sync)", measure(rounds * 10) { city.syncStatus() })
    report("fetch one task (task, suspend)", measure(rounds) { runBlocking { city.task(first, 1u, ward) } })
    report("list $docs tasks (listTasks, suspend)", measure(if (smoke) 5 else 100) { runBlocking { city.listTasks(all) } })
    city.close()
}
