"""A whole cadre's flow through the Python bindings against a real relay: the city office
issues dispatch 305, a ward receives it, acknowledges, reports with Vietnamese prose and
figures, the city returns the report, the ward sees it; then bad input and a revoked device."""

import asyncio
import threading
import unicodedata

import pytest

from giaoban_ffi import (
    AssignmentStep, ContactPerson, DeadlineInput, DirectiveInput, DocumentChangeListener, FigureEntry, FigureQualifier, FigureUnit, ReportStanding,
    GiaoBanError, GiaoBanStore, ReportInput, ReportType, ReviewVerdict, SectionText, Standing,
    SyncPhase, SyncStatusListener, TaskInput, TaskQuery, TaskScope, TaskStatus, format_vnd,
    province_units,
)


class Statuses(SyncStatusListener):
    def __init__(self):
        self.seen = []
        self.changed = threading.Condition()

    def on_status(self, status):
        with self.changed:
            self.seen.append(status)
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=30):
        with self.changed:
            return self.changed.wait_for(lambda: any(predicate(s) for s in self.seen), timeout)


class Changes(DocumentChangeListener):
    def __init__(self):
        self.ids = []
        self.changed = threading.Condition()

    def on_documents_changed(self, ids):
        with self.changed:
            self.ids.extend(ids)
            self.changed.notify_all()

    def wait_for(self, doc_id, timeout=30):
        """Waits until `doc_id` has been reported changed; other documents (the unit
        directory, say) may be reported first, in any order."""
        with self.changed:
            return self.changed.wait_for(lambda: doc_id in self.ids, timeout)


def run(coro):
    return asyncio.run(coro)


def dispatch_305(recipient):
    return DirectiveInput(
        document_kind="ke-hoach",
        number="305/MTTQ-BTT",
        issuer_name="Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Đồng Nai",
        place="Đồng Nai",
        issued_on="24/01/2022",
        subject="V/v rà soát, báo cáo các mô hình, cách làm hiệu quả",
        recipients=[recipient],
        recipients_label="Kính gửi: Ban Thường trực UBMTTQ các xã, phường",
        copies_to=["Như trên;", "Ban Dân vận Thành ủy (b/c);", "Lưu: VT."],
        body="Thực hiện Kế hoạch số 12/KH-MTTQ-BTT ngày 10/01/2022.",
        tasks=[
            TaskInput(ordinal=1, text="Rà soát các mô hình, cách làm hiệu quả tại địa phương.",
                      report_required=True, deadline=DeadlineInput(text="trước ngày 08/02/2099"),
                      contact="đ/c Muối-CV",
                      contact_person=ContactPerson(name="Nguyễn Văn Muối", title="Chuyên viên",
                                                   phone="0251 3877 123"),
                      coordinate_with=["Hội Cựu chiến binh", "Đoàn Thanh niên"]),
            TaskInput(ordinal=2, text="Tuyên truyền Cuộc vận động trong khu dân cư."),
        ],
    )


def test_whole_cadre_flow(relay, tmp_path):
    (city_name, city_code), (ward_name, ward_code) = relay.codes[0], relay.codes[1]
    city = GiaoBanStore.open(str(tmp_path / "city.sqlite"))
    ward = GiaoBanStore.open(str(tmp_path / "ward.sqlite"))
    assert ward.sync_status().phase == SyncPhase.NOT_ENROLLED()

    city_unit = run(city.enroll(relay.url, city_code, "Văn phòng tỉnh")).unit
    ward_enrolled = run(ward.enroll(relay.url, ward_code, "Điện thoại chị Lan"))
    assert ward_enrolled.device == ward.device_id()
    assert ward.unit_id() == ward_enrolled.unit
    run(ward.set_app_version("Giao Ban Android 1.4.2 (thử nghiệm)"))

    # The city finds the ward in the reference data (diacritics optional) and issues 305.
    units = province_units("Dong Nai")
    assert units[0].id == city_unit
    assert ward_enrolled.unit in [u.id for u in units]
    directive_id = run(city.issue_directive(dispatch_305(ward_enrolled.unit)))
    run(city.sync_now())

    statuses, changes = Statuses(), Changes()
    status_sub = ward.add_sync_status_listener(statuses)
    change_sub = ward.add_change_listener(changes)

    # The ward receives it.
    summary = run(ward.sync_now())
    assert directive_id in summary.changed
    assert statuses.wait_for(lambda s: s.phase == SyncPhase.UP_TO_DATE()), statuses.seen
    assert changes.wait_for(directive_id, 10)
    # The office's list of devices shows what the phone runs and that it has nothing unsent.
    line = next(l for l in relay.admin("devices").splitlines() if ward.device_id() in l)
    assert 'app "Giao Ban Android 1.4.2 (thử nghiệm)"' in line and "unsent 0 document(s) 0 file(s)" in line, line
    tasks = run(ward.list_tasks(TaskQuery(scope=TaskScope.MINE())))
    assert [(t.source, t.ordinal) for t in tasks] == [(directive_id, 1), (directive_id, 2)]
    task = tasks[0]
    assert task.deadline.due_date == "08/02/2099" and task.deadline.exclusive
    assert task.standing == Standing.UPCOMING
    detail = run(ward.directive(directive_id))
    assert detail.number == "305/MTTQ-BTT" and detail.tasks[0].contact == "đ/c Muối-CV"
    assert (detail.document_kind, detail.document_kind_name) == ("ke-hoach", "Kế hoạch")
    assert detail.copies_to == ["Như trên;", "Ban Dân vận Thành ủy (b/c);", "Lưu: VT."]
    assert detail.tasks[0].contact_person == ContactPerson(name="Nguyễn Văn Muối", title="Chuyên viên",
                                                          phone="0251 3877 123")
    assert detail.tasks[0].coordinate_with == ["Hội Cựu chiến binh", "Đoàn Thanh niên"]
    assert detail.tasks[1].contact_person is None and detail.tasks[1].coordinate_with == []

    # Acknowledge, report with NFD input (as old phone keyboards type it), figures, submit.
    run(ward.acknowledge_task(directive_id, 1))
    assert run(ward.task(directive_id, 1, None)).status == TaskStatus.ACKNOWLEDGED
    nfd = unicodedata.normalize("NFD", "Rà soát 12 mô hình; đ/c Muối phụ trách.")
    report_id = run(ward.create_report(ReportInput(
        title="Báo cáo kết quả rà soát các mô hình", kind=ReportType.THEMATIC, period="tháng 01/2022",
        directive=directive_id, task_ordinal=1,
        sections=[SectionText(key="ket_qua", heading="Kết quả thực hiện", body=nfd)])))
    run(ward.splice_report_section(report_id, "ket_qua", 0, 0, "Tháng 1: "))
    run(ward.set_report_figure(report_id, FigureEntry(indicator="quy_vnn_vnd", amount="gần 850 triệu",
                                                       unit=FigureUnit.VND)))
    run(ward.set_report_figure(report_id, FigureEntry(indicator="nha_dai_doan_ket", amount="hơn 20",
                                                       unit=FigureUnit.HOUSES, cumulative=True)))
    run(ward.submit_report(report_id))
    report = run(ward.report(report_id))
    assert report.sections[0].body == unicodedata.normalize("NFC", "Tháng 1: " + nfd)
    # "muoi" finds "Muối" in the report and in the directive's contact.
    assert {h.id for h in run(ward.search("muoi", 10))} == {report_id, directive_id}
    assert [h.id for h in run(ward.search("KET QUA ra soat", 10))] == [report_id]
    statuses.seen.clear()
    pushed = run(ward.sync_now())
    assert pushed.acknowledged >= 2 and pushed.rejected == []
    assert statuses.wait_for(lambda s: s.phase == SyncPhase.UP_TO_DATE() and s.pending == 0)

    # The city sees the submission and the figures, and returns the report with a note.
    run(city.sync_now())
    tracked = run(city.task(directive_id, 1, ward_enrolled.unit))
    assert tracked.status == TaskStatus.SUBMITTED and tracked.report == report_id
    assert tracked.received_at_ms is not None and tracked.standing == Standing.DONE_ON_TIME
    figures = {f.indicator: f for f in run(city.report(report_id)).figures}
    assert figures["quy_vnn_vnd"].value == 850_000_000
    assert figures["quy_vnn_vnd"].qualifier == FigureQualifier.UNDER
    assert figures["quy_vnn_vnd"].display == "gần 850.000.000 đ"
    assert figures["nha_dai_doan_ket"].display == "hơn 20 căn" and figures["nha_dai_doan_ket"].cumulative
    assert format_vnd(6_400_000_000) == "6.400.000.000 đ"
    assert figures["quy_vnn_vnd"].written == "gần 850 triệu", "the words as written"
    # The city's phone sums its wards' figures: all submitted counts the ward, accepted only
    # does not yet.
    summed = run(city.consolidation(directive_id, 1, False))
    money = next(c for c in summed.columns if c.indicator == "quy_vnn_vnd")
    assert money.total == 850_000_000 and money.qualifier == FigureQualifier.UNDER and money.under == 1
    assert [r.unit for r in summed.rows] == [ward_enrolled.unit]
    accepted = run(city.consolidation(directive_id, 1, True))
    assert accepted.rows == [] and accepted.not_counted[0].standing == ReportStanding.AWAITING_REVIEW
    review_id = run(city.review_report(report_id, ReviewVerdict.RETURNED, "Bổ sung số liệu hộ nghèo."))
    run(city.sync_now())
    after = run(city.consolidation(directive_id, 1, False))
    assert after.rows == [] and after.not_counted[0].words == "bị trả lại, chờ báo cáo lại"

    # The ward's change listener fires with the review; the task shows the verdict.
    run(ward.sync_now())
    assert changes.wait_for(review_id, 10)
    returned = run(ward.task(directive_id, 1, None)).review
    assert returned.verdict == ReviewVerdict.RETURNED and returned.note == "Bổ sung số liệu hộ nghèo."
    # The ward's assignment, step by step: the city's view and the ward's own agree.
    history = run(ward.assignment_history(directive_id, None))
    steps = [(e.ordinal, e.step) for e in history]
    assert steps == [
        (None, AssignmentStep.ISSUED()),
        (1, AssignmentStep.ACKNOWLEDGED()),
        (1, AssignmentStep.IN_PROGRESS()),  # the report written for the task
        (1, AssignmentStep.SUBMITTED(count=1)),
        (1, AssignmentStep.RETURNED(note="Bổ sung số liệu hộ nghèo.")),
    ], steps
    assert all(e.when_ms >= history[0].when_ms for e in history)
    assert history[1].device == ward.device_id()
    city_view = run(city.assignment_history(directive_id, ward_enrolled.unit))
    assert [(e.ordinal, e.step) for e in city_view] == steps
    assert all(e.received_at_ms is not None for e in city_view[1:4]), "the ward's steps carry the relay's time"

    # A cancelled subscription hears nothing more.
    change_sub.cancel()
    status_sub.cancel()
    statuses.seen.clear()
    run(ward.sync_now())
    assert statuses.seen == []

    # Bad input: a typed error naming the field; nothing changed.
    with pytest.raises(GiaoBanError.InvalidInput) as bad_id:
        run(ward.acknowledge_task("không-phải-mã", 1))
    assert bad_id.value.field == "source"
    with pytest.raises(GiaoBanError.InvalidInput) as bad_amount:
        run(ward.set_report_figure(report_id, FigureEntry(indicator="quy_vnn_vnd", amount="nhiều lắm",
                                                           unit=FigureUnit.VND)))
    assert "figures" in bad_amount.value.field
    with pytest.raises(GiaoBanError.NotFound):
        run(ward.task(directive_id, 9, None))
    odd_kind = dispatch_305(ward_enrolled.unit)
    odd_kind.document_kind = "công văn"
    with pytest.raises(GiaoBanError.InvalidInput) as bad_kind:
        run(city.issue_directive(odd_kind))
    assert bad_kind.value.field == "document_kind" and "cong-van" in bad_kind.value.reason
    bad_phone = dispatch_305(ward_enrolled.unit)
    bad_phone.tasks[0].contact_person.phone = "gọi anh Lực"
    with pytest.raises(GiaoBanError.InvalidInput) as bad_phone_error:
        run(city.issue_directive(bad_phone))
    assert bad_phone_error.value.field == "tasks[1].contact_person.phone"

    # The office revokes the ward's phone: the next sync is refused with Unauthorized and the
    # status says so; the local data stays.
    relay.admin("revoke", "--device", ward.device_id())
    with pytest.raises(GiaoBanError.Unauthorized):
        run(ward.sync_now())
    assert isinstance(ward.sync_status().phase, SyncPhase.FAILED)
    assert run(ward.report(report_id)).title == "Báo cáo kết quả rà soát các mô hình"


def test_background_sync_delivers_without_asking(relay, tmp_path):
    city_code, ward_code = relay.codes[0][1], relay.codes[2][1]
    city = GiaoBanStore.open(str(tmp_path / "city2.sqlite"))
    ward = GiaoBanStore.open(str(tmp_path / "ward2.sqlite"))
    # Codes are one-time: the first test used codes[0] for its city, so enrol the second city
    # phone with a fresh code from the office.
    out = relay.admin("enroll", "--unit", relay.codes[0][0])
    city_code = out.split(": ")[1].split(" ")[0]
    run(city.enroll(relay.url, city_code, "Máy tính văn phòng"))
    ward_unit = run(ward.enroll(relay.url, ward_code, "Điện thoại anh Hòa")).unit
    changes = Changes()
    sub = ward.add_change_listener(changes)
    ward.start_background_sync()
    try:
        directive_id = run(city.issue_directive(dispatch_305(ward_unit)))
        run(city.sync_now())
        # The relay's live notification wakes the ward's loop; no sync_now on the ward.
        assert changes.wait_for(directive_id), "the background sync did not deliver the directive"
    finally:
        run(ward.stop_background_sync())
        sub.cancel()


def test_bad_store_path_is_a_storage_error(tmp_path):
    with pytest.raises(GiaoBanError.Storage):
        GiaoBanStore.open(str(tmp_path / "no-such-folder" / "x.sqlite"))
    with pytest.raises(GiaoBanError.InvalidInput):
        GiaoBanStore.open("   ")
