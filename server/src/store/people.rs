//! The people of each unit to contact (name, title, phone), kept in the unit directory the
//! relay writes, so every device that reads the directory has them offline and the desk offers
//! them when a dispatch names its contact. The operator keeps them (`giaoban-relay admin
//! people`); each change is one writer job, like the units' own changes.

use giaoban_protocol::UnitId;
use giaoban_protocol::schema::{DocKind, PEOPLE_MAX, Person, UnitDirectory};
use giaoban_vietnamese_text::{clean_input, search_key};
use rusqlite::params;

use super::units::{known, names, update_directories};
use super::{RelayStore, Result, StoreError};

impl RelayStore {
    /// The people listed for `unit`, in the order they were added. Blocking.
    pub fn unit_people(&self, unit: UnitId) -> Result<Vec<Person>> {
        self.writer().run_blocking(move |ctx| {
            let names = names(ctx)?;
            known(&names, unit)?;
            let dirs: Vec<Vec<u8>> = ctx
                .tx
                .prepare_cached("SELECT id FROM docs WHERE kind = ?1 ORDER BY n")?
                .query_map(params![DocKind::UnitDirectory.as_str()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for id in dirs {
                let id = giaoban_protocol::DocId::from_slice(&id)
                    .map_err(|e| StoreError::Invalid(format!("a stored document id is damaged: {e}")))?;
                let Some((_, doc)) = ctx.load(id)? else { continue };
                let dir: UnitDirectory = autosurgeon::hydrate(&doc).map_err(|e| {
                    StoreError::Invalid(format!("the unit directory {id} cannot be read: {e}"))
                })?;
                if let Some(u) = dir.unit(unit) {
                    return Ok(u.people.clone());
                }
            }
            Ok(Vec::new())
        })
    }

    /// Adds `person` to `unit`'s people (their words cleaned to NFC), or replaces the entry of
    /// the same name (compared without diacritics or case). Blocking.
    pub fn add_person(&self, unit: UnitId, person: Person) -> Result<()> {
        let person = Person {
            name: clean_input(&person.name),
            title: clean_input(&person.title),
            phone: clean_input(&person.phone),
        };
        person.validate("person").map_err(|e| StoreError::Invalid(person_problem(&e)))?;
        self.writer().run_blocking(move |ctx| {
            let names = names(ctx)?;
            known(&names, unit)?;
            let listed = std::cell::Cell::new(0usize);
            let key = search_key(&person.name);
            update_directories(ctx, &[unit], &names, |dir| {
                if let Some(u) = dir.units.iter_mut().find(|u| u.id == unit) {
                    match u.people.iter_mut().find(|p| search_key(&p.name) == key) {
                        Some(p) => *p = person.clone(),
                        None => u.people.push(person.clone()),
                    }
                    listed.set(u.people.len());
                }
            })?;
            if listed.get() > PEOPLE_MAX {
                return Err(StoreError::Invalid(format!("a unit lists at most {PEOPLE_MAX} people")));
            }
            Ok(())
        })
    }

    /// Removes the person named `name` (compared without diacritics or case) from `unit`'s
    /// people; `false` when nobody of that name is listed. Blocking.
    pub fn remove_person(&self, unit: UnitId, name: &str) -> Result<bool> {
        let key = search_key(&clean_input(name));
        self.writer().run_blocking(move |ctx| {
            let names = names(ctx)?;
            known(&names, unit)?;
            let removed = std::cell::Cell::new(false);
            update_directories(ctx, &[unit], &names, |dir| {
                if let Some(u) = dir.units.iter_mut().find(|u| u.id == unit) {
                    let before = u.people.len();
                    u.people.retain(|p| search_key(&p.name) != key);
                    removed.set(u.people.len() < before);
                }
            })?;
            Ok(removed.get())
        })
    }
}

/// What is wrong with a person's fields, for the operator.
fn person_problem(e: &giaoban_protocol::schema::Invalid) -> String {
    match e.field.as_str() {
        "person.name" if e.reason.contains("empty") || e.reason.contains("required") => {
            "give the person's full name (--name)".into()
        }
        "person.name" => format!("the name cannot be kept: {}", e.reason),
        "person.phone" => format!("the phone number cannot be read: {}", e.reason),
        _ => format!("{}: {}", e.field, e.reason),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn muoi() -> Person {
        Person {
            name: "Nguyễn Văn Muối".into(), title: "Chuyên viên".into(), phone: "0251 3877 123".into()
        }
    }

    #[test]
    fn people_are_added_replaced_by_name_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RelayStore::open(dir.path()).unwrap();
        let tree = store.create_units_from_reference("Đồng Nai").unwrap();
        let office = tree.units[0].id;
        store.add_person(office, muoi()).unwrap();
        // The same name typed without diacritics, in NFD, replaces the entry.
        let again = Person {
            name: "Nguye\u{302}\u{303}n Va\u{306}n Muo\u{302}\u{301}i".into(),
            title: "Phó Chủ tịch".into(),
            phone: String::new(),
        };
        store.add_person(office, again).unwrap();
        let people = store.unit_people(office).unwrap();
        assert_eq!(people.len(), 1);
        assert_eq!((people[0].name.as_str(), people[0].title.as_str()), ("Nguyễn Văn Muối", "Phó Chủ tịch"));
        let lan =
            Person { name: "Trần Thị Lan".into(), title: String::new(), phone: "+84 912 345 678".into() };
        store.add_person(office, lan).unwrap();
        assert_eq!(store.unit_people(office).unwrap().len(), 2);
        assert!(store.remove_person(office, "nguyen van muoi").unwrap());
        assert!(!store.remove_person(office, "nguyen van muoi").unwrap());
        let left = store.unit_people(office).unwrap();
        assert_eq!(left.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Trần Thị Lan"]);
        // Another unit's list is its own.
        assert!(store.unit_people(tree.units[1].id).unwrap().is_empty());
    }

    #[test]
    fn a_person_without_a_name_or_with_a_wordy_phone_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = RelayStore::open(dir.path()).unwrap();
        let office = store.create_units_from_reference("Đồng Nai").unwrap().units[0].id;
        let nameless = Person { name: "  ".into(), ..muoi() };
        assert!(
            matches!(store.add_person(office, nameless), Err(StoreError::Invalid(m)) if m.contains("--name"))
        );
        let wordy = Person { phone: "gọi anh Lực".into(), ..muoi() };
        assert!(
            matches!(store.add_person(office, wordy), Err(StoreError::Invalid(m)) if m.contains("phone"))
        );
        assert!(store.unit_people(office).unwrap().is_empty());
        let stranger = UnitId::from_bytes([9; 16]);
        assert!(matches!(store.add_person(stranger, muoi()), Err(StoreError::NotFound(_))));
    }
}
