// A whole cadre's flow through the Kotlin bindings, on the JVM with JNA, against a real relay:
// the city office issues dispatch 305, a ward receives, acknowledges, reports with Vietnamese
// prose and figures, the city returns the report, the ward's change listener fires; typed
// exceptions for bad input and a revoked device; cancellation; twenty concurrent calls.
//
// Usage: CadreFlowKt <giaoban-relay binary> <scratch folder> [bench]

import java.io.File
import java.net.URI
import java.text.Normalizer
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess
import kotlinx.coroutines.*
import vn.giaoban.core.*

class StatusLog : SyncStatusListener {
    val seen = CopyOnWriteArrayList<SyncStatus>()
    override fun onStatus(status: SyncStatus) { seen.add(status) }
    fun waitFor(timeoutMs: Long = 30_000, p: (SyncStatus) -> Boolean): Boolean {
        val end = System.currentTimeMillis() + timeoutMs
        while (System.currentTimeMillis() < end) {
            if (seen.any(p)) return true
            Thread.sleep(10)
        }
        return false
    }
}

class ChangeLog : DocumentChangeListener {
    val ids = CopyOnWriteArrayList<String>()
    @Volatile var latch = CountDownLatch(1)
    @Volatile var thread: String? = null
    override fun onDocumentsChanged(ids: List<String>) {
        thread = Thread.currentThread().name
        this.ids.addAll(ids)
        latch.countDown()
    }
}

fun dispatch305(recipients: List<String>, ordinal: ULong = 1u) = DirectiveInput(
    number = "305/MTTQ-BTT",
    issuerName = "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Đồng Nai",
    place = "Đồng Nai",
    issuedOn = "24/01/2022",
    subject = "V/v rà soát, báo cáo các mô hình, cách làm hiệu quả",
    recipients = recipients,
    recipientsLabel = "Kính gửi: Ban Thường trực UBMTTQ các xã, phường",
    body = "Thực hiện Kế hoạch số 12/KH-MTTQ-BTT ngày 10/01/2022.",
    tasks = listOf(
        TaskInput(ordinal = ordinal, text = "Rà soát các mô hình, cách làm hiệu quả tại địa phương.",
            reportRequired = true, deadline = DeadlineInput(text = "trước ngày 08/02/2099"), contact = "đ/c Muối-CV"),
    ),
)

inline fun <reified E : Throwable> expectThrows(block: () -> Unit): E {
    try { block() } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("expected ${E::class.simpleName}, nothing was thrown")
}

fun main(args: Array<String>) {
    val relayBin = args[0]
    val scratch = File(args[1]).apply { mkdirs() }
    val relay = Relay(relayBin, File(scratch, "relay"))
    // The relay is stopped before the JVM exits: `exitProcess` runs no `finally`, so a relay
    // stopped there would outlive the flow and keep its port.
    val code = try {
        if (args.getOrNull(2) == "bench") {
            bench(relay, scratch)
            0
        } else {
            flow(relay, scratch)
        }
    } finally {
        relay.stop()
    }
    exitProcess(code)
}

fun flow(relay: Relay, scratch: File): Int = runBlocking {
    val checks = Checks()
    val (_, cityCode) = relay.codes[0]
    val (_, wardCode) = relay.codes[1]
    val city = GiaoBanStore.open(File(scratch, "city.sqlite").path)
    val ward = GiaoBanStore.open(File(scratch, "ward.sqlite").path)
    var directiveId = ""
    var reportId = ""
    var wardUnit = ""
    val changes = ChangeLog()
    val statuses = StatusLog()

    checks.run("enrol the city office and a ward") {
        runBlocking {
            expect(ward.syncStatus().phase == SyncPhase.NotEnrolled) { "a new store is not enrolled" }
            city.enroll(relay.url, cityCode, "Văn phòng tỉnh")
            val e = ward.enroll(relay.url, wardCode, "Điện thoại chị Lan")
            wardUnit = e.unit
            expect(e.device == ward.deviceId() && ward.unitId() == e.unit) { "enrolment: $e" }
            expect(provinceUnits("Dong Nai").any { it.id == wardUnit }) { "the ward is in the reference data" }
        }
    }

    checks.run("the ward receives the directive the city issued; status goes up to date") {
        runBlocking {
            directiveId = city.issueDirective(dispatch305(listOf(wardUnit)))
            city.syncNow()
            ward.addSyncStatusListener(statuses).use { _ ->
                ward.addChangeListener(changes).let { sub -> subscriptions.add(sub) }
                val summary = ward.syncNow()
                expect(directiveId in summary.changed) { "summary $summary" }
                expect(statuses.waitFor { it.phase == SyncPhase.UpToDate }) { "statuses ${statuses.seen}" }
            }
            expect(changes.latch.await(10, TimeUnit.SECONDS) && directiveId in changes.ids) { "change listener" }
            val caller = Thread.currentThread().name
            expect(changes.thread != null && changes.thread != caller) { "listener ran on the caller's thread $caller" }
            val tasks = ward.listTasks(TaskQuery(scope = TaskScope.Mine))
            expect(tasks.size == 1 && tasks[0].source == directiveId) { "tasks $tasks" }
            expect(tasks[0].deadline?.dueDate == "08/02/2099" && tasks[0].standing == Standing.UPCOMING) { "${tasks[0]}" }
        }
    }

    checks.run("acknowledge, report with Vietnamese text and figures, submit, sync") {
        runBlocking {
            ward.acknowledgeTask(directiveId, 1u)
            expect(ward.task(directiveId, 1u, null).status == TaskStatus.ACKNOWLEDGED) { "acknowledged" }
            val nfd = Normalizer.normalize("Rà soát 12 mô hình; đ/c Muối phụ trách.", Normalizer.Form.NFD)
            reportId = ward.createReport(ReportInput(
                title = "Báo cáo kết quả rà soát các mô hình", kind = ReportType.THEMATIC, period = "tháng 01/2022",
                directive = directiveId, taskOrdinal = 1u,
                sections = listOf(SectionText("ket_qua", "Kết quả thực hiện", nfd))))
            ward.spliceReportSection(reportId, "ket_qua", 0u, 0u, "Tháng 1: ")
            ward.setReportFigure(reportId, FigureEntry("quy_vnn_vnd", "gần 850 triệu", FigureUnit.VND))
            ward.setReportFigure(reportId, FigureEntry("nha_dai_doan_ket", "hơn 20", FigureUnit.HOUSES, cumulative = true))
            ward.submitReport(reportId)
            val body = ward.report(reportId).sections[0].body
            expect(body == Normalizer.normalize("Tháng 1: $nfd", Normalizer.Form.NFC)) { "body is NFC: $body" }
            expect(ward.search("muoi", 10u).any { it.id == reportId }) { "muoi finds Muối" }
            statuses.seen.clear()
            ward.addSyncStatusListener(statuses).use { _ ->
                val s = ward.syncNow()
                expect(s.acknowledged >= 2u && s.rejected.isEmpty()) { "sync $s" }
                expect(statuses.waitFor { it.phase == SyncPhase.UpToDate && it.pending == 0UL }) { "${statuses.seen}" }
            }
        }
    }

    checks.run("the city sees the figures and returns the report; the ward's change listener fires") {
        runBlocking {
            city.syncNow()
            val tracked = city.task(directiveId, 1u, wardUnit)
            expect(tracked.status == TaskStatus.SUBMITTED && tracked.report == reportId) { "tracked $tracked" }
            expect(tracked.standing == Standing.DONE_ON_TIME && tracked.receivedAtMs != null) { "standing $tracked" }
            val money = city.report(reportId).figures.first { it.indicator == "quy_vnn_vnd" }
            expect(money.value == 850_000_000L && money.qualifier == FigureQualifier.UNDER) { "$money" }
            expect(money.display == "gần 850.000.000 đ") { money.display }
            val reviewId = city.reviewReport(reportId, ReviewVerdict.RETURNED, "Bổ sung số liệu hộ nghèo.")
            city.syncNow()
            changes.latch = CountDownLatch(1)
            changes.ids.clear()
            ward.syncNow()
            expect(changes.latch.await(10, TimeUnit.SECONDS) && reviewId in changes.ids) { "changes ${changes.ids}" }
            val review = ward.task(directiveId, 1u, null).review
            expect(review?.verdict == ReviewVerdict.RETURNED && review.note == "Bổ sung số liệu hộ nghèo.") { "$review" }
        }
    }

    checks.run("bad input is a typed exception naming the field") {
        runBlocking {
            val e = expectThrows<GiaoBanException.InvalidInput> { runBlocking { ward.acknowledgeTask("không-phải-mã", 1u) } }
            expect(e.field == "source") { "field ${e.field}" }
            val f = expectThrows<GiaoBanException.InvalidInput> {
                runBlocking { ward.setReportFigure(reportId, FigureEntry("quy_vnn_vnd", "nhiều lắm", FigureUnit.VND)) }
            }
            expect(f.field.startsWith("figures")) { "field ${f.field}" }
            expectThrows<GiaoBanException.NotFound> { runBlocking { ward.task(directiveId, 9u, null) } }
        }
    }

    checks.run("a photo attached on the ward phone opens on the city's device") {
        runBlocking {
            val photo = ByteArray(600 * 1024) { (it * 31 + it / 7).toByte() }
            val file = File(scratch, "IMG_2041.jpg").apply { writeBytes(photo) }
            val item = ward.attachFile(AttachmentTarget.Report(reportId), file.path,
                AttachmentInput("ảnh nhà ông Lực.jpg", "image/jpeg", "Lễ bàn giao nhà Đại đoàn kết"))
            val sha = java.security.MessageDigest.getInstance("SHA-256").digest(photo).joinToString("") { "%02x".format(it) }
            expect(item.hash == sha && item.size == photo.size.toULong()) { "attached $item" }
            val moves = java.util.concurrent.ConcurrentLinkedQueue<FileTransfer>()
            ward.addFileListener(object : FileTransferListener {
                override fun onTransfer(hash: String, transfer: FileTransfer) { moves.add(transfer) }
            }).use { _ ->
                ward.syncNow()
                val sent = ward.syncFiles()
                expect(sent.sent == 1u && sent.waiting == 0u) { "sent $sent" }
            }
            expect(moves.any { it.sentence == "đã gửi" }) { "transfers $moves" }
            city.syncNow()
            city.setPrefetchLimit(0u)
            val listed = city.attachments(reportId)
            expect(listed.size == 1 && listed[0].name == "ảnh nhà ông Lực.jpg") { "listed $listed" }
            expect(city.openAttachment(item.hash) is OpenedFile.Fetching) { "not here yet" }
            expect(city.syncFiles().fetched == 1u) { "fetched" }
            val opened = city.openAttachment(item.hash)
            expect(opened is OpenedFile.Here && File(opened.path).readBytes().contentEquals(photo)) { "opened $opened" }
        }
    }

    checks.run("cancelling the coroutine cancels the sync in the library") {
        runBlocking { cancellation(relay) }
    }

    checks.run("twenty concurrent calls on one thread finish while a sync hangs") {
        runBlocking { concurrency(relay, scratch) }
    }

    checks.run("a revoked device gets Unauthorized") {
        runBlocking {
            relay.admin("revoke", "--device", ward.deviceId())
            expectThrows<GiaoBanException.Unauthorized> { runBlocking { ward.syncNow() } }
            expect(ward.syncStatus().phase is SyncPhase.Failed) { "phase ${ward.syncStatus().phase}" }
            expect(ward.report(reportId).title == "Báo cáo kết quả rà soát các mô hình") { "local data kept" }
        }
    }

    subscriptions.forEach { it.close() }
    city.close()
    ward.close()
    checks.finish()
}

val subscriptions = mutableListOf<Subscription>()

fun freshCode(relay: Relay, unitIndex: Int): String {
    val out = relay.admin("enroll", "--unit", relay.codes[unitIndex].first)
    return out.substringAfter(": ").substringBefore(" ")
}

fun proxiedWard(relay: Relay, scratch: File, name: String): Pair<GiaoBanStore, Proxy> {
    val port = URI(relay.url).port
    val proxy = Proxy(port)
    val store = GiaoBanStore.open(File(scratch, name).path)
    runBlocking { store.enroll(proxy.url, freshCode(relay, 2), "Điện thoại anh Hòa") }
    return store to proxy
}

suspend fun cancellation(relay: Relay) = coroutineScope {
    val scratch = File(System.getProperty("java.io.tmpdir"), "giaoban-cancel-${System.nanoTime()}").apply { mkdirs() }
    val (store, proxy) = proxiedWard(relay, scratch, "cancel.sqlite")
    val log = StatusLog()
    store.addSyncStatusListener(log).use { _ ->
        proxy.blackHole.set(true)
        val job = launch(Dispatchers.Default) { store.syncNow() }
        // Wait until the request is in flight and swallowed.
        val deadline = System.currentTimeMillis() + 10_000
        while (proxy.swallowed.get() == 0 && System.currentTimeMillis() < deadline) delay(10)
        expect(proxy.swallowed.get() > 0) { "the sync never reached the link" }
        expect(store.syncStatus().phase is SyncPhase.Syncing) { "phase ${store.syncStatus().phase}" }
        val started = System.nanoTime()
        withTimeout(5_000) { job.cancelAndJoin() }
        // The library's work stops too: the status leaves Syncing long before the 120 s
        // request timeout would have ended it.
        expect(log.waitFor(5_000) { it.phase == SyncPhase.Idle }) { "statuses ${log.seen}" }
        val ms = (System.nanoTime() - started) / 1_000_000
        println("        cancelled a hung sync in $ms ms")
        proxy.blackHole.set(false)
        val after = store.syncNow()
        expect(after.roundTrips >= 1u) { "sync after cancel $after" }
    }
    store.close()
}

suspend fun concurrency(relay: Relay, scratch: File) {
    val (store, proxy) = proxiedWard(relay, scratch, "busy.sqlite")
    store.syncNow()
    proxy.blackHole.set(true)
    // One thread runs every coroutine below; a call that blocked it would stall all of them.
    val single = newSingleThreadContext("ui")
    try {
        withContext(single) {
            val hung = launch { runCatching { store.syncNow() } }
            val results = (1..20).map { i ->
                async {
                    when (i % 4) {
                        0 -> store.listTasks(TaskQuery(scope = TaskScope.All)).size
                        1 -> store.search("ra soat", 10u).size
                        2 -> store.deliveryOrNotFound("01a20cc3-0000-7000-8000-000000000000")
                        else -> store.syncStatus().pending.toInt()
                    }
                }
            }
            withTimeout(20_000) { results.awaitAll() }
            expect(hung.isActive) { "the hung sync should still be waiting" }
            hung.cancelAndJoin()
        }
    } finally {
        single.close()
        proxy.blackHole.set(false)
        store.close()
    }
}

/** A read of an id not on the device: still a full trip through the library's threads,
 *  ending in the expected NotFound. */
suspend fun GiaoBanStore.deliveryOrNotFound(id: String): Int = try { delivery(id); 1 } catch (e: GiaoBanException.NotFound) { 0 }
