"""Attached files through the Python bindings and a real relay process: a ward phone attaches a
photo (from a file and from bytes) to its report, the province office's device opens it, and
file listeners see the transfers move."""

import asyncio
import hashlib
import os
import threading

import pytest

from giaoban_ffi import (
    AttachmentInput, AttachmentTarget, FileTransferListener, GiaoBanError, GiaoBanStore, OpenedFile,
    ReportInput, ReportType, SectionText,
)


def run(coro):
    return asyncio.run(coro)


class Transfers(FileTransferListener):
    def __init__(self):
        self.seen = []
        self.changed = threading.Condition()

    def on_transfer(self, hash, transfer):
        with self.changed:
            self.seen.append((hash, transfer))
            self.changed.notify_all()


def test_a_photo_attached_on_a_ward_phone_opens_at_the_office(relay, tmp_path):
    (_, office_code), (_, ward_code) = relay.codes[0], relay.codes[1]
    office = GiaoBanStore.open(str(tmp_path / "office.sqlite"))
    ward = GiaoBanStore.open(str(tmp_path / "ward.sqlite"))
    run(office.enroll(relay.url, office_code, "Máy văn phòng tỉnh"))
    run(ward.enroll(relay.url, ward_code, "Điện thoại chị Lan"))

    report_id = run(ward.create_report(ReportInput(
        title="Báo cáo bàn giao nhà Đại đoàn kết", kind=ReportType.THEMATIC, period="quý IV/2025",
        sections=[SectionText(key="ket_qua", heading="Kết quả", body="Đã bàn giao nhà cho hộ ông Lực.")])))
    photo = os.urandom(700 * 1024)
    path = tmp_path / "IMG_2041.jpg"
    path.write_bytes(photo)
    item = run(ward.attach_file(AttachmentTarget.REPORT(report_id), str(path),
                                AttachmentInput(name="ảnh nhà ông Lực.jpg", media_type="image/jpeg",
                                                caption="Lễ bàn giao")))
    assert item.hash == hashlib.sha256(photo).hexdigest()
    assert item.size == len(photo) and item.transfer.sentence == "chờ gửi"
    # The app may delete its own copy: the store keeps the file.
    path.unlink()
    scan = run(ward.attach_bytes(AttachmentTarget.REPORT(report_id), b"%PDF-1.4 bien ban",
                                 AttachmentInput(name="../biên bản.pdf", media_type="application/pdf",
                                                 caption="")))
    assert scan.name == "biên bản.pdf"

    transfers = Transfers()
    sub = ward.add_file_listener(transfers)
    run(ward.sync_now())
    sent = run(ward.sync_files())
    assert sent.sent == 2 and sent.waiting == 0
    assert any(t.sentence == "đã gửi" for h, t in transfers.seen if h == item.hash), transfers.seen
    sub.cancel()

    run(office.sync_now())
    listed = {a.hash: a for a in run(office.attachments(report_id))}
    assert set(listed) == {item.hash, scan.hash}
    assert listed[item.hash].caption == "Lễ bàn giao"
    run(office.set_prefetch_limit(0))
    opened = run(office.open_attachment(item.hash))
    assert isinstance(opened, OpenedFile.FETCHING) and opened.transfer.sentence == "chờ tải về"
    got = run(office.sync_files())
    assert got.fetched == 1
    opened = run(office.open_attachment(item.hash))
    assert isinstance(opened, OpenedFile.HERE)
    with open(opened.path, "rb") as f:
        assert f.read() == photo

    # Bad input is refused with the field named.
    with pytest.raises(GiaoBanError.InvalidInput) as e:
        run(office.open_attachment("khong-phai-ma-bam"))
    assert e.value.field == "hash"
    with pytest.raises(GiaoBanError.InvalidInput):
        run(ward.attach_bytes(AttachmentTarget.REPORT(report_id), b"x",
                              AttachmentInput(name="a.txt", media_type="văn bản", caption="")))
