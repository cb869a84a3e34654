//! The form that records a meeting (giao ban tháng, quý, sơ kết, tổng kết, trực báo) and its
//! conclusions: its fields as the browser sends them, read back into client-core's
//! `NewMeeting`, with every problem named beside its field in Vietnamese.
//!
//! A conclusion is addressed as the minutes address it: to a level or a kind of unit ("Ban
//! Thường trực … các xã", "các tổ chức thành viên") and to units by name. The groups are read
//! from the units below the office, and resolved to the units they hold when the form is
//! checked, so the meeting names its units, as a dispatch does.

use std::collections::BTreeMap;

use giaoban_client_core::{NewConclusion, NewMeeting, parse_deadline};
use giaoban_protocol::UnitId;
use giaoban_protocol::schema::{MeetingKind, Unit, UnitKind};
use giaoban_vietnamese_text::{clean_input, clean_multiline, parse_date, search_key};

use super::dispatch_form::{Problems, read_deadline};

/// Conclusions a form starts with.
pub const DEFAULT_CONCLUSIONS: usize = 3;
/// Most conclusions one meeting may have.
pub const MAX_CONCLUSIONS: usize = 40;
/// Longest one-line field, in characters.
const MAX_LINE: usize = 500;
/// Longest conclusion, in characters.
const MAX_PROSE: usize = 20_000;

/// One conclusion's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConclusionFields {
    /// As the minutes address it ("Đối với Ban Thường trực Ủy ban MTTQ các xã, phường").
    pub label: String,
    /// Groups picked ("level:xã", "kind:member-organisation").
    pub groups: Vec<String>,
    /// Units picked by name (ids).
    pub units: Vec<String>,
    /// The words.
    pub text: String,
    /// The deadline as the minutes write it.
    pub deadline: String,
    /// A task of its own for each unit addressed (no dispatch needed).
    pub task: bool,
}

impl ConclusionFields {
    fn is_blank(&self) -> bool {
        self.label.trim().is_empty()
            && self.groups.is_empty()
            && self.units.is_empty()
            && self.text.trim().is_empty()
            && self.deadline.trim().is_empty()
    }
}

/// The form's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeetingFields {
    /// The form's own id (hex of 16 bytes), from which the meeting's comes: a form sent twice
    /// records one meeting.
    pub form: String,
    /// The kind by code ("giao-ban-thang" …).
    pub kind: String,
    /// "Hội nghị giao ban công tác Mặt trận tháng 01 năm 2022".
    pub title: String,
    /// "20/01/2022".
    pub held_on: String,
    /// Where.
    pub place: String,
    /// Who chaired.
    pub chair: String,
    /// The conclusions in order.
    pub conclusions: Vec<ConclusionFields>,
    /// The form sent more conclusions than a meeting may have: the words of those past the
    /// last one kept, to be shown back.
    pub too_many: Vec<String>,
    /// The form said it had more conclusions than a meeting may have.
    pub count_over: bool,
}

/// What the staff member pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingAction {
    /// One more conclusion block.
    AddConclusion,
    /// Record the meeting.
    Record,
}

/// A group of units the form offers to address at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// "level:xã", "kind:member-organisation".
    pub code: String,
    /// "Ban Thường trực Ủy ban MTTQ các xã".
    pub name: String,
    /// The units it holds.
    pub units: Vec<UnitId>,
}

/// The groups of the units below the office: the Front committees of each level ("các xã",
/// "các phường"), and each other kind of body (member organisations, work teams …). Only
/// units that still exist; a group of one kind or level is offered only if it has units.
pub fn groups(children: &[Unit]) -> Vec<Group> {
    let live: Vec<&Unit> = children.iter().filter(|u| u.valid_to.is_none()).collect();
    let mut by_level: BTreeMap<String, (String, Vec<UnitId>)> = BTreeMap::new();
    for u in live.iter().filter(|u| u.kind == UnitKind::FrontCommittee) {
        let label = clean_input(&u.level_label);
        if label.is_empty() {
            continue;
        }
        by_level.entry(search_key(&label)).or_insert_with(|| (label, Vec::new())).1.push(u.id);
    }
    let mut out: Vec<Group> = by_level
        .into_values()
        .map(|(label, units)| Group {
            code: format!("level:{label}"),
            name: format!("Ban Thường trực Ủy ban MTTQ Việt Nam các {label}"),
            units,
        })
        .collect();
    for (kind, code) in UnitKind::ALL {
        let name = match kind {
            UnitKind::FrontCommittee => continue,
            UnitKind::MemberOrganisation => "Các tổ chức chính trị - xã hội, đoàn thể",
            UnitKind::WorkTeam => "Các Ban Công tác Mặt trận",
            UnitKind::PartyBody => "Các cơ quan Đảng",
            UnitKind::StateBody => "Các cơ quan nhà nước",
            UnitKind::Other => "Các đơn vị khác",
        };
        let units: Vec<UnitId> = live.iter().filter(|u| u.kind == kind).map(|u| u.id).collect();
        if !units.is_empty() {
            out.push(Group { code: format!("kind:{code}"), name: name.to_string(), units });
        }
    }
    out
}

impl MeetingFields {
    /// A new form, held `today` (dd/mm/yyyy).
    pub fn blank(today: &str) -> MeetingFields {
        MeetingFields {
            form: super::dispatch_form::new_draft_id(),
            kind: MeetingKind::MonthlyBriefing.code().into(),
            held_on: today.to_string(),
            conclusions: vec![ConclusionFields::default(); DEFAULT_CONCLUSIONS],
            ..MeetingFields::default()
        }
    }

    /// The fields of a form as sent (pairs in order) and the button pressed.
    pub fn from_pairs(pairs: &[(String, String)]) -> (MeetingFields, MeetingAction) {
        let mut f = MeetingFields::default();
        let mut action = MeetingAction::Record;
        let mut blocks: BTreeMap<usize, ConclusionFields> = BTreeMap::new();
        let mut count = 0usize;
        for (k, v) in pairs {
            match k.as_str() {
                "form" => f.form = v.clone(),
                "kind" => f.kind = v.clone(),
                "title" => f.title = v.clone(),
                "held_on" => f.held_on = v.clone(),
                "place" => f.place = v.clone(),
                "chair" => f.chair = v.clone(),
                "conclusions" => {
                    let n: usize = v.parse().unwrap_or(0);
                    f.count_over |= n > MAX_CONCLUSIONS;
                    count = n.min(MAX_CONCLUSIONS);
                }
                "action" => {
                    action = if v == "add-conclusion" {
                        MeetingAction::AddConclusion
                    } else {
                        MeetingAction::Record
                    }
                }
                other => {
                    let Some(rest) = other.strip_prefix('c') else { continue };
                    let Some((n, field)) = rest.split_once('_') else { continue };
                    let Ok(n) = n.parse::<usize>() else { continue };
                    if n == 0 {
                        continue;
                    }
                    if n > MAX_CONCLUSIONS {
                        if field == "text" && f.too_many.len() < 100 {
                            f.too_many.push(v.clone());
                        }
                        continue;
                    }
                    let c = blocks.entry(n).or_default();
                    match field {
                        "label" => c.label = v.clone(),
                        "group" if c.groups.len() < 100 => c.groups.push(v.clone()),
                        "unit" if c.units.len() < 10_000 => c.units.push(v.clone()),
                        "text" => c.text = v.clone(),
                        "deadline" => c.deadline = v.clone(),
                        "task" => c.task = !v.is_empty(),
                        _ => {}
                    }
                }
            }
        }
        let count = count.max(blocks.keys().next_back().copied().unwrap_or(0)).clamp(1, MAX_CONCLUSIONS);
        f.conclusions = (1..=count).map(|n| blocks.remove(&n).unwrap_or_default()).collect();
        if action == MeetingAction::AddConclusion && f.conclusions.len() < MAX_CONCLUSIONS {
            f.conclusions.push(ConclusionFields::default());
        }
        (f, action)
    }

    /// The form's id as bytes, if it carries a well-formed one.
    pub fn form_id(&self) -> Option<[u8; 16]> {
        hex::decode(self.form.trim()).ok()?.try_into().ok()
    }

    /// Reads the form into a meeting whose conclusions address units among `children` (the
    /// units below the office), or says what is wrong with each field.
    pub fn check(&self, children: &[Unit]) -> Result<NewMeeting, Problems> {
        let mut p = Problems::new();
        let line = |p: &mut Problems, name: &str, v: &str| -> String {
            let v = clean_input(v);
            if v.chars().count() > MAX_LINE {
                p.insert(name.into(), format!("Dài quá {MAX_LINE} ký tự; hãy viết gọn lại."));
            }
            v
        };
        let kind = MeetingKind::from_code(&self.kind).unwrap_or_else(|| {
            p.insert("kind".into(), "Hãy chọn loại hội nghị trong danh sách.".into());
            MeetingKind::Other
        });
        let title = line(&mut p, "title", &self.title);
        if title.is_empty() {
            p.insert(
                "title".into(),
                "Hãy ghi tên hội nghị, ví dụ “Hội nghị giao ban công tác Mặt trận tháng 01 năm 2022”.".into(),
            );
        }
        let held_on = clean_input(&self.held_on);
        if parse_date(&held_on).is_err() {
            p.insert("held_on".into(), "Ngày họp viết theo dạng ngày/tháng/năm, ví dụ 20/01/2022.".into());
        }
        if self.count_over || !self.too_many.is_empty() {
            let dropped: Vec<String> =
                self.too_many.iter().map(|t| format!("“{}”", clean_multiline(t))).collect();
            p.insert(
                "form".into(),
                format!(
                    "Một hội nghị ghi tối đa {MAX_CONCLUSIONS} kết luận; chưa ghi gì. Các kết luận sau kết luận thứ {MAX_CONCLUSIONS}{}{}. Hãy gộp bớt rồi ghi lại.",
                    if dropped.is_empty() { "" } else { ": " },
                    dropped.join("; ")
                ),
            );
        }
        let held = parse_date(&held_on).ok();
        let place = line(&mut p, "place", &self.place);
        let chair = line(&mut p, "chair", &self.chair);
        let offered = groups(children);
        let mut conclusions = Vec::new();
        for (i, c) in self.conclusions.iter().enumerate() {
            let n = i + 1;
            if c.is_blank() {
                continue;
            }
            let f = |field: &str| format!("c{n}_{field}");
            let text = clean_multiline(&c.text);
            if text.is_empty() {
                p.insert(
                    f("text"),
                    "Hãy ghi nội dung kết luận (hoặc xóa hết các ô của kết luận này).".into(),
                );
            } else if text.chars().count() > MAX_PROSE {
                p.insert(f("text"), format!("Dài quá {MAX_PROSE} ký tự."));
            }
            let mut units: Vec<UnitId> = Vec::new();
            let mut group_names = Vec::new();
            for code in &c.groups {
                match offered.iter().find(|g| &g.code == code) {
                    Some(g) => {
                        units.extend(&g.units);
                        group_names.push(g.name.clone());
                    }
                    None => {
                        p.insert(
                            f("group"),
                            "Một nhóm đơn vị đã chọn không còn trong danh sách; hãy chọn lại.".into(),
                        );
                    }
                }
            }
            for id in &c.units {
                match id
                    .parse::<UnitId>()
                    .ok()
                    .filter(|u| children.iter().any(|c| c.id == *u && c.valid_to.is_none()))
                {
                    Some(u) => units.push(u),
                    None => {
                        p.insert(
                            f("unit"),
                            "Một đơn vị đã chọn không thuộc đơn vị mình hoặc không còn hoạt động.".into(),
                        );
                    }
                }
            }
            units.sort_unstable();
            units.dedup();
            if c.task && units.is_empty() {
                p.insert(f("unit"), "Kết luận giao việc trực tiếp cần chọn đơn vị thực hiện.".into());
            }
            let mut label = line(&mut p, &f("label"), &c.label);
            if label.is_empty() && !group_names.is_empty() {
                label = format!("Đối với {}", group_names.join(", "));
            }
            let deadline = read_deadline(&mut p, &f("deadline"), &c.deadline);
            if let (Some(d), Some(held)) = (deadline.as_ref().and_then(|d| parse_deadline(d).ok()), held)
                && d.last_day() < held
            {
                p.insert(f("deadline"), "Thời hạn sớm hơn ngày họp.".into());
            }
            conclusions.push(NewConclusion {
                target_label: label,
                target_units: units,
                text,
                creates_task: c.task,
                deadline,
            });
        }
        if conclusions.is_empty() {
            p.insert("c1_text".into(), "Hãy ghi ít nhất một kết luận của hội nghị.".into());
        }
        if !p.is_empty() {
            return Err(p);
        }
        Ok(NewMeeting { kind, title, held_on, place, chair, conclusions })
    }
}

/// Whether `recorded` is what `input` records (a form sent again unchanged).
pub fn same_meeting(recorded: &giaoban_protocol::schema::Meeting, input: &NewMeeting) -> bool {
    let same_conclusions = recorded.conclusions.len() == input.conclusions.len()
        && recorded.conclusions.iter().zip(&input.conclusions).all(|(r, i)| {
            r.target_label == clean_input(&i.target_label)
                && r.target_units == i.target_units
                && r.text == clean_multiline(&i.text)
                && r.creates_task == i.creates_task
                && r.deadline.as_ref().map(|d| d.original_text.clone())
                    == i.deadline.as_ref().map(|d| clean_input(&d.text))
        });
    same_conclusions
        && recorded.kind == input.kind
        && recorded.title == clean_input(&input.title)
        && parse_date(&input.held_on).ok() == Some(recorded.held_on)
        && recorded.place == clean_input(&input.place)
        && recorded.chair == clean_input(&input.chair)
}

/// The id of the meeting `unit` records from form `form`: the same every time, so a form sent
/// twice (or again after a crash) records one meeting; time-ordered by when the form began.
pub fn meeting_id(unit: UnitId, form: [u8; 16]) -> giaoban_protocol::DocId {
    super::dispatch_form::form_doc_id(b"giaoban desk meeting", unit, form)
}

/// The form's field for a field path of client-core's validation ("conclusions[2].text" is
/// "c2_text"); "form" for one that has no field of its own.
pub fn field_of(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("conclusions[")
        && let Some((n, tail)) = rest.split_once(']')
        && n.parse::<usize>().is_ok()
    {
        let field = match tail.trim_start_matches('.') {
            "deadline" => "deadline",
            "target_label" => "label",
            "" => "unit",
            _ => "text",
        };
        return format!("c{n}_{field}");
    }
    match path {
        "title" | "held_on" | "place" | "chair" => path.into(),
        _ => "form".into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ward(name: &str, level: &str, kind: UnitKind) -> Unit {
        Unit {
            id: UnitId::from_bytes(rand::random()),
            name: name.into(),
            short_name: name.into(),
            kind,
            level_label: level.into(),
            parent: None,
            admin_ref: None,
            valid_from: None,
            valid_to: None,
            successors: Vec::new(),
            people: Vec::new(),
        }
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_conclusion_to_the_communes_and_the_veterans_names_each_of_them() {
        let children = vec![
            ward("Ủy ban MTTQ Việt Nam xã Bảo Quang", "xã", UnitKind::FrontCommittee),
            ward("Ủy ban MTTQ Việt Nam xã Hàng Gòn", "Xã", UnitKind::FrontCommittee),
            ward("Ủy ban MTTQ Việt Nam phường Xuân Trung", "phường", UnitKind::FrontCommittee),
            ward("Hội Cựu chiến binh thành phố", "thành phố", UnitKind::MemberOrganisation),
        ];
        let g = groups(&children);
        let codes: Vec<&str> = g.iter().map(|g| g.code.as_str()).collect();
        assert_eq!(codes, vec!["level:phường", "level:xã", "kind:member-organisation"]);
        assert_eq!(g[1].units.len(), 2, "levels match whatever their case");
        let veterans = children[3].id.to_string();
        let (f, action) = MeetingFields::from_pairs(&pairs(&[
            ("form", "00000000000000000000000000000001"),
            ("kind", "tong-ket"),
            ("title", "Hội nghị tổng kết công tác Mặt trận năm 2025"),
            ("held_on", "18/12/2025"),
            ("conclusions", "2"),
            ("c1_group", "level:xã"),
            ("c1_unit", &veterans),
            ("c1_text", "Rà soát hộ nghèo, báo cáo kết quả."),
            ("c1_deadline", "trước ngày 15/01/2026"),
            ("c2_label", "Chung"),
            ("c2_text", "Tiếp tục phát huy những kết quả đạt được."),
        ]));
        assert_eq!(action, MeetingAction::Record);
        let m = f.check(&children).unwrap();
        assert_eq!(m.kind, MeetingKind::ClosingReview);
        assert_eq!(m.conclusions.len(), 2);
        let mut expected = vec![children[0].id, children[1].id, children[3].id];
        expected.sort_unstable();
        assert_eq!(m.conclusions[0].target_units, expected);
        assert_eq!(m.conclusions[0].target_label, "Đối với Ban Thường trực Ủy ban MTTQ Việt Nam các xã");
        assert!(m.conclusions[1].target_units.is_empty());
    }

    #[test]
    fn every_wrong_field_is_named_in_vietnamese() {
        let children = vec![ward("Ủy ban MTTQ Việt Nam xã Bảo Quang", "xã", UnitKind::FrontCommittee)];
        let (f, _) = MeetingFields::from_pairs(&pairs(&[
            ("kind", "hop-kin"),
            ("held_on", "31/02/2025"),
            ("c1_label", "Đối với các xã"),
            ("c1_task", "on"),
            ("c1_unit", "not-a-unit"),
            ("c1_deadline", "sau ngày 10/01/2026"),
            ("c2_group", "level:thị trấn"),
        ]));
        let p = f.check(&children).unwrap_err();
        for field in ["kind", "title", "held_on", "c1_text", "c1_unit", "c1_deadline", "c2_group", "c2_text"]
        {
            assert!(p.contains_key(field), "{field}: {p:?}");
        }
        assert!(p.values().all(|m| !m.is_empty() && !m.contains("invalid")));
    }

    #[test]
    fn adding_a_conclusion_keeps_what_was_typed_and_the_count_is_bounded() {
        let (f, action) = MeetingFields::from_pairs(&pairs(&[
            ("c2_text", "Chăm lo Tết cho hộ nghèo."),
            ("action", "add-conclusion"),
        ]));
        assert_eq!(action, MeetingAction::AddConclusion);
        assert_eq!(f.conclusions.len(), 3);
        assert_eq!(f.conclusions[1].text, "Chăm lo Tết cho hộ nghèo.");
        let many = pairs(&[("conclusions", "100000"), ("c99999_text", "x"), ("action", "add-conclusion")]);
        assert_eq!(MeetingFields::from_pairs(&many).0.conclusions.len(), MAX_CONCLUSIONS);
    }

    #[test]
    fn a_form_gives_one_meeting_id() {
        let unit = UnitId::from_slice(&[1; 16]).unwrap();
        let form = MeetingFields::blank("20/01/2022").form_id().unwrap();
        assert_eq!(meeting_id(unit, form), meeting_id(unit, form));
        assert_ne!(meeting_id(unit, form), meeting_id(UnitId::from_slice(&[2; 16]).unwrap(), form));
    }
}
