// The office desk in a real headless Chromium (Debian's, driven by playwright-core) against a
// real relay process, with wards' phones played by real client-core stores (the `device`
// example). Every step is done with the keyboard alone, and every page is checked with
// axe-core against WCAG 2 A and AA.
//
//   GIAOBAN_RELAY_BIN=target/debug/giaoban-relay GIAOBAN_DEVICE_BIN=target/debug/examples/device \
//     node --test tests/browser/
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const RELAY = process.env.GIAOBAN_RELAY_BIN;
const DEVICE = process.env.GIAOBAN_DEVICE_BIN;
const CHROMIUM = process.env.GIAOBAN_CHROMIUM || "/usr/bin/chromium";
assert.ok(RELAY && DEVICE, "set GIAOBAN_RELAY_BIN and GIAOBAN_DEVICE_BIN");

const scratch = mkdtempSync(path.join(os.tmpdir(), "giaoban-desk-"));
const data = path.join(scratch, "relay");
const env = { ...process.env, GIAOBAN_RELAY_DATA_DIR: data, RUST_LOG: "warn" };
const admin = (...args) => execFileSync(RELAY, ["admin", ...args], { env, encoding: "utf8" });
const device = (store, ...args) =>
  execFileSync(DEVICE, ["--store", path.join(scratch, store), ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });

/** A date `days` from today in Vietnam, dd/mm/yyyy. */
function vnDate(days) {
  const t = new Date(Date.now() + 7 * 3600 * 1000 + days * 86400 * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${p(t.getUTCDate())}/${p(t.getUTCMonth() + 1)}/${t.getUTCFullYear()}`;
}

/** The key the unit filter matches: no diacritics, đ as d, lower case. */
const key = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function axeCheck(page, label) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } }),
  );
  const found = result.violations.map(
    (v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(" ")).join("; ")}`,
  );
  assert.deepEqual(found, [], `${label}: accessibility violations`);
}

/** Types into a field reached by the keyboard (focus), replacing what it held. */
async function typeInto(page, selector, text) {
  await page.focus(selector);
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  if (text) await page.keyboard.type(text);
}

/** Presses Enter on a button or link, and waits for the page it leads to. */
async function activate(page, selector) {
  await page.focus(selector);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
}

let relay;
let browser;
after(async () => {
  if (browser) await browser.close();
  if (relay) relay.kill("SIGKILL");
  rmSync(scratch, { recursive: true, force: true });
});

test("issue, track live, review and sign out, with the keyboard alone", { timeout: 180_000 }, async () => {
  admin("create-units", "--province", "Đồng Nai");
  const units = admin("units")
    .split("\n")
    .map((l) => l.match(/^([0-9a-f-]{36})\s+(.*)$/))
    .filter(Boolean)
    .map((m) => ({ id: m[1], name: m[2].trim() }));
  const province = units[0];
  const wards = units.slice(1, 4);
  const staff = admin("staff", "add", "--unit", province.id, "--login", "muoi.nv", "--name", "Nguyễn Văn Muối");
  const password = staff.match(/: (\S+)\s*$/m)[1];
  const codes = wards.map((w) => admin("enroll", "--unit", w.id).match(/: (\S+) \(valid/)[1]);

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  relay = spawn(RELAY, ["serve"], { env: { ...env, GIAOBAN_RELAY_LISTEN: `127.0.0.1:${port}` }, stdio: "ignore" });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    assert.ok(i < 200, "the relay did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  wards.forEach((w, i) => device(`ward${i}.sqlite`, "enroll", base, codes[i], `Điện thoại ${w.name}`));

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await (await browser.newContext({ locale: "vi-VN" })).newPage();
  const scriptErrors = [];
  page.on("pageerror", (e) => scriptErrors.push(e.message));
  // Pages that refuse a form answer 422 by design; any other failed load or error counts.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().includes("status of 422")) scriptErrors.push(m.text());
  });

  // Sign in: Tab from the login to the password, Enter to send.
  await page.goto(`${base}/desk`);
  assert.match(page.url(), /\/desk\/sign-in$/);
  assert.equal(await page.getAttribute("html", "lang"), "vi");
  await axeCheck(page, "sign-in");
  await page.focus("#login");
  await page.keyboard.type("muoi.nv");
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  assert.match(page.url(), /\/desk$/);
  await axeCheck(page, "first page");

  // A new dispatch: three wards picked through the filter, typed without diacritics.
  await activate(page, "a[href='/desk/dispatch/new']");
  await axeCheck(page, "dispatch form");
  await typeInto(page, "#number", "15/MTTQ-BTT");
  await typeInto(page, "#place", "Biên Hòa");
  await typeInto(page, "#subject", "V/v rà soát hộ nghèo, hộ cận nghèo cuối năm");
  for (const w of wards) {
    await typeInto(page, "#unit-filter", key(w.name).split(" ").slice(-2).join(" "));
    await page.focus(`#u-${w.id}`);
    await page.keyboard.press("Space");
    assert.ok(await page.isChecked(`#u-${w.id}`), `${w.name} picked`);
  }
  await typeInto(page, "#task1_text", "Rà soát danh sách hộ nghèo, hộ cận nghèo trên địa bàn; báo cáo kết quả.");
  await page.focus("#task1_report");
  await page.keyboard.press("Space");
  await typeInto(page, "#task1_deadline", "sớm nhất có thể");
  await typeInto(page, "#task2_text", "Tuyên truyền Tháng cao điểm “Vì người nghèo”.");
  await typeInto(page, "#task3_text", "Vận động các tổ chức, cá nhân ủng hộ Quỹ “Vì người nghèo”.");
  await typeInto(page, "#signer_name", "Nguyễn Văn Bốn");

  // A deadline that names no day is refused beside its field; what was typed stays.
  await activate(page, "button[value='preview']");
  const error = await page.textContent("#task1_deadline-error");
  assert.match(error, /Không đọc được ngày trong “sớm nhất có thể”/);
  assert.equal(await page.inputValue("#task2_text"), "Tuyên truyền Tháng cao điểm “Vì người nghèo”.");
  await axeCheck(page, "dispatch form with errors");
  const due = vnDate(7);
  await typeInto(page, "#task1_deadline", `trước ngày ${due}`);
  await activate(page, "button[value='preview']");
  const read = await page.textContent(".deadline-read");
  assert.match(read, new RegExp(`hạn cuối là ngày ${vnDate(6)}`));
  await axeCheck(page, "preview");
  await activate(page, "button[value='issue']");
  assert.match(page.url(), /\/desk\/dispatch\/[0-9a-f-]{36}$/);
  await axeCheck(page, "matrix");
  const matrix = page.url();
  for (const w of wards) assert.ok((await page.textContent("#matrix")).includes(w.name));

  // The wards' phones sync, acknowledge and report while the matrix stays open: it changes
  // without a reload.
  await page.evaluate(() => { window.__stayed = true; });
  // A keyboard user's place in the table survives each refresh.
  const placed = `a[href$='/unit/${wards[2].id}']`;
  await page.focus(placed);
  const tasks = device("ward0.sqlite", "sync") && device("ward0.sqlite", "tasks");
  const source = tasks.match(/^([0-9a-f-]{36}) 1 \|/m)[1];
  const reports = [];
  for (const [i, words] of [[0, "Đã rà soát 214 hộ; 12 hộ thoát nghèo."], [1, "Chưa đủ số liệu <script>window.__pwned = 1</script>."]]) {
    const store = `ward${i}.sqlite`;
    if (i) device(store, "sync");
    device(store, "ack", source, "1");
    const report = device(store, "report", source, "1", "Báo cáo kết quả rà soát hộ nghèo").match(/report (\S+)/)[1];
    device(store, "write", report, "ket_qua", words);
    device(store, "submit", report);
    device(store, "sync");
    reports.push(report);
  }
  device("ward2.sqlite", "sync");
  device("ward2.sqlite", "ack", source, "1");
  device("ward2.sqlite", "sync");
  await page.waitForFunction(
    () => (document.querySelector("#matrix").textContent.match(/Đã báo cáo/g) || []).length >= 2
      && document.querySelector("#matrix").textContent.includes("Đã tiếp nhận"),
    null,
    { timeout: 15_000 },
  );
  assert.equal(await page.evaluate(() => window.__stayed), true, "the matrix changed without a reload");
  assert.equal(
    await page.evaluate(() => document.activeElement && document.activeElement.getAttribute("href")),
    await page.getAttribute(placed, "href"),
    "the focus stays on the link it was on",
  );
  assert.match(await page.textContent("#live-status"), /Đã cập nhật/);
  await axeCheck(page, "matrix after live update");

  // Accept the first ward's report from its cell; return the second's with a note.
  await activate(page, `a[href='/desk/report/${reports[0]}']`);
  await axeCheck(page, "report");
  assert.ok((await page.textContent("main")).includes("Đã rà soát 214 hộ; 12 hộ thoát nghèo."));
  assert.ok((await page.textContent(".history")).includes(`Điện thoại ${wards[0].name}`));
  await activate(page, "button[value='accept']");
  assert.match(await page.textContent(".notice"), /Đã duyệt báo cáo/);
  await page.goto(`${base}/desk/report/${reports[1]}`);
  assert.equal(await page.evaluate(() => window.__pwned), undefined, "a ward's words never run");
  assert.ok((await page.textContent("main")).includes("<script>window.__pwned = 1</script>"));
  await activate(page, "button[value='return']");
  assert.match(await page.textContent("#note-error"), /ghi rõ/);
  await axeCheck(page, "report with an error");
  await typeInto(page, "#note", "Đề nghị bổ sung danh sách hộ thoát nghèo.");
  await activate(page, "button[value='return']");
  assert.match(await page.textContent(".notice"), /Đã trả lại/);
  await page.goto(matrix);
  const after = await page.textContent("#matrix");
  assert.ok(after.includes("Đã duyệt") && after.includes("Trả lại"));

  // Prod the late: the ward that has only acknowledged is ticked already; its phone shows the
  // reminder on its tasks.
  assert.ok(await page.isChecked(`#remind-${wards[2].id}`), "the ward with open tasks is ticked");
  await typeInto(page, "#remind-note", "Đề nghị phường khẩn trương rà soát và báo cáo.");
  await activate(page, "section.remind button[type='submit']");
  assert.match(await page.textContent(".notice"), /Đã gửi nhắc nhở/);
  await axeCheck(page, "matrix after a reminder");
  device("ward2.sqlite", "sync");
  assert.match(device("ward2.sqlite", "tasks"), /\[đôn đốc: Đề nghị phường khẩn trương rà soát và báo cáo\.\]/);

  // The returned ward's history, from its name in the matrix: each step with its time, and
  // when the dispatch first reached one of its phones.
  await page.goto(matrix);
  await activate(page, `a[href$='/unit/${wards[1].id}']`);
  await axeCheck(page, "a unit's assignment history");
  const steps = await page.textContent(".history");
  for (const step of ["Ban hành, giao nhiệm vụ", "Văn bản đến máy đầu tiên của đơn vị", "Đơn vị tiếp nhận",
    "Nộp báo cáo", "Trả lại báo cáo: “Đề nghị bổ sung danh sách hộ thoát nghèo.”"]) {
    assert.ok(steps.includes(step), `the history shows "${step}": ${steps}`);
  }
  assert.ok(steps.indexOf("Ban hành") < steps.indexOf("Nộp báo cáo"), "oldest first");
  assert.ok(steps.includes(`Điện thoại ${wards[1].name}`), "the ward's phone is named");
  assert.match(steps, /\d\d:\d\d ngày \d\d\/\d\d\/\d{4}/);

  // The task's figures summed, from its column in the matrix: the accepted ward counted,
  // the returned one named with its reason; the counting chosen with the keyboard.
  await page.goto(matrix);
  await activate(page, "a.consolidate");
  assert.match(page.url(), /\/task\/1\/figures$/);
  await axeCheck(page, "a task's consolidation");
  const counted = await page.textContent("main");
  assert.ok(counted.includes("Tổng hợp số liệu nhiệm vụ 1"), counted);
  assert.ok(counted.includes(`${wards[1].name}: bị trả lại`), counted);
  await page.focus("input[value='all']");
  await page.keyboard.press("Space");
  await activate(page, "form.counting button[type='submit']");
  assert.match(page.url(), /counting=all/);
  await axeCheck(page, "a task's consolidation, all submitted");
  // The office's own report drafted from the table, edited and saved with the keyboard.
  await activate(page, "form.draft-report button");
  assert.match(page.url(), /\/desk\/report\/[0-9a-f-]{36}$/);
  await axeCheck(page, "the office's draft report");
  const firstBox = "form.report-edit textarea";
  await page.focus(firstBox);
  await page.keyboard.press("End");
  await page.keyboard.type(" Đã đối chiếu với sổ theo dõi.");
  await activate(page, "form.report-edit button[value='save']");
  assert.match(await page.textContent(".notice"), /Đã lưu báo cáo/);
  assert.ok((await page.inputValue(firstBox)).endsWith("Đã đối chiếu với sổ theo dõi."));
  await axeCheck(page, "the office's draft report, saved");

  // The wards' phones see the verdicts.
  device("ward0.sqlite", "sync");
  device("ward1.sqlite", "sync");
  assert.match(device("ward0.sqlite", "tasks"), /\[đã tiếp nhận báo cáo\]/);
  assert.match(device("ward1.sqlite", "tasks"), /\[trả lại: Đề nghị bổ sung danh sách hộ thoát nghèo\.\]/);

  // A briefing's conclusions, recorded with the keyboard: one addressed to a level of units
  // at once, then turned into a prefilled draft of the dispatch form that links back to it.
  await activate(page, "a[href='/desk/meetings']");
  await axeCheck(page, "meetings");
  await activate(page, "a[href='/desk/meeting/new']");
  await axeCheck(page, "meeting form");
  await activate(page, "button[value='record']");
  assert.match(await page.textContent("#title-error"), /Hãy ghi tên hội nghị/);
  await axeCheck(page, "meeting form with errors");
  await typeInto(page, "#title", "Hội nghị giao ban công tác Mặt trận tháng 12 năm 2026");
  await page.focus("#c1_group-1");
  await page.keyboard.press("Space");
  assert.ok(await page.isChecked("#c1_group-1"), "a level of units picked");
  await typeInto(page, "#c1_text", "Rà soát hộ nghèo cần hỗ trợ nhà Đại đoàn kết.");
  await typeInto(page, "#c1_deadline", `trước ngày ${vnDate(10)}`);
  await activate(page, "button[value='record']");
  assert.match(page.url(), /\/desk\/meeting\/[0-9a-f-]{36}$/);
  const minutes = await page.textContent("main");
  assert.ok(minutes.includes(`trước ngày ${vnDate(10)}`) && minutes.includes("Giao ban tháng"), minutes);
  await axeCheck(page, "a meeting");
  await activate(page, "form[action$='/conclusion/1/dispatch'] button");
  assert.match(page.url(), /\/desk\/dispatch\/new\?draft=[0-9a-f]{32}$/);
  assert.equal(await page.inputValue("#task1_text"), "Rà soát hộ nghèo cần hỗ trợ nhà Đại đoàn kết.");
  await axeCheck(page, "dispatch form from a conclusion");

  // Devices: make an enrollment code for the third ward and enroll a new phone with it; revoke
  // the third ward's first phone: its next sync is refused.
  await activate(page, "a[href='/desk/devices']");
  await axeCheck(page, "devices");
  await activate(page, `button[aria-label='Tạo mã đăng ký cho ${wards[2].name}']`);
  await axeCheck(page, "enrollment code");
  assert.ok(await page.isVisible(".qr svg"), "the QR code is shown");
  const code = (await page.textContent(".code")).trim();
  device("ward2-new.sqlite", "enroll", base, code, "Máy mới");
  device("ward2-new.sqlite", "sync");
  await page.goto(`${base}/desk/devices?q=${encodeURIComponent(key(wards[2].name))}`);
  await activate(page, `button[aria-label='Thu hồi Điện thoại ${wards[2].name}']`);
  assert.match(await page.textContent(".notice"), /Đã thu hồi/);
  assert.throws(() => device("ward2.sqlite", "sync"), "a revoked phone cannot sync");
  device("ward2-new.sqlite", "sync");

  // Sign out with the keyboard: the desk is closed to this browser.
  await activate(page, ".who button");
  assert.match(page.url(), /\/desk\/sign-in$/);
  await page.goto(matrix);
  assert.match(page.url(), /\/desk\/sign-in$/);
  assert.deepEqual(scriptErrors, [], "no script errors and no failed loads on any page");
});
