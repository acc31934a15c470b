//! Deterministic world building: the same seed gives the same company, locations,
//! ids, people and records, so tests and demos can rely on them.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Value, json};

use super::state::{
    ALL_SCOPES, Appointment, Contact, CustomField, Grant, Inner, Location, MatchField, Named, Note,
    Task, TokenKind, UserType, World, new_hex_id, new_id,
};

/// First and last names the seeded people are made of (shared with the other
/// emulators later, so the same people can exist in several systems).
pub const FIRST_NAMES: &[&str] = &[
    "Ava", "Liam", "Olivia", "Noah", "Emma", "Mason", "Sophia", "Lucas", "Mia", "Ethan",
    "Isabella", "Logan", "Amelia", "James", "Harper", "Elijah", "Evelyn", "Benjamin", "Abigail",
    "Henry",
];
pub const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
];
const TAGS: &[&str] = &[
    "lead",
    "buyer",
    "seller",
    "vip",
    "newsletter",
    "hot",
    "cold",
];
const USER_NAMES: &[&str] = &["Alex Agent", "Blair Broker", "Casey Closer"];

/// The person at index `i` of the seeded population: (first, last, email, phone).
pub fn person(i: usize) -> (String, String, String, String) {
    let first = FIRST_NAMES[i % FIRST_NAMES.len()];
    let last = LAST_NAMES[(i / FIRST_NAMES.len()) % LAST_NAMES.len()];
    let email = format!(
        "{}.{}{}@example.com",
        first.to_lowercase(),
        last.to_lowercase(),
        i
    );
    let phone = format!("+1555{:07}", 1_000_000 + i);
    (first.to_owned(), last.to_owned(), email, phone)
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

fn named(rng: &mut StdRng, prefix: &str, n: usize, hex: bool) -> Vec<Named> {
    (1..=n)
        .map(|i| Named {
            id: if hex { new_hex_id(rng) } else { new_id(rng) },
            name: format!("{prefix} {i}"),
        })
        .collect()
}

/// Builds a fresh world from the seed: one company, `locations` sub-accounts.
pub fn world(seed: u64, locations: usize) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let company_id = new_id(&mut rng);
    let suffix: String = (0..8)
        .map(|_| {
            let a = b"abcdefghijklmnopqrstuvwxyz0123456789";
            a[rng.random_range(0..a.len())] as char
        })
        .collect();
    let client_id = format!("{}-{suffix}", new_hex_id(&mut rng));
    let mut secret = [0u8; 16];
    rng.fill_bytes(&mut secret);
    let client_secret = uuid::Builder::from_random_bytes(secret)
        .into_uuid()
        .to_string();
    let mut key_seed = [0u8; 32];
    rng.fill_bytes(&mut key_seed);
    let mut locs = IndexMap::new();
    let mut tokens = HashMap::new();
    for n in 1..=locations.max(1) {
        let id = new_id(&mut rng);
        let users: Vec<Named> = USER_NAMES
            .iter()
            .map(|name| Named {
                id: new_id(&mut rng),
                name: (*name).to_owned(),
            })
            .collect();
        let mut pit_bytes = [0u8; 16];
        rng.fill_bytes(&mut pit_bytes);
        let pit = format!(
            "pit-{}",
            uuid::Builder::from_random_bytes(pit_bytes).into_uuid()
        );
        let mut custom_fields = IndexMap::new();
        for (name, key, dtype, options) in [
            ("Pincode", "contact.pincode", "TEXT", vec![]),
            ("Lead Score", "contact.lead_score", "NUMERICAL", vec![]),
            (
                "Preferred Contact",
                "contact.preferred_contact",
                "SINGLE_OPTIONS",
                vec!["email", "phone", "sms"],
            ),
        ] {
            let fid = new_id(&mut rng);
            custom_fields.insert(
                fid.clone(),
                CustomField {
                    id: fid,
                    name: name.to_owned(),
                    field_key: key.to_owned(),
                    data_type: dtype.to_owned(),
                    placeholder: None,
                    position: i64::try_from(custom_fields.len()).unwrap_or(0) * 50,
                    model: "contact".to_owned(),
                    picklist_options: options.into_iter().map(str::to_owned).collect(),
                },
            );
        }
        let location = Location {
            id: id.clone(),
            name: format!("Sandbox Realty {n}"),
            address: format!("{n} Sandbox Way, Austin, TX"),
            allow_duplicates: false,
            duplicate_priority: vec![MatchField::Email, MatchField::Phone],
            app_installed: false,
            installed_at: None,
            pit: pit.clone(),
            users,
            calendars: named(&mut rng, "Calendar", 2, false),
            campaigns: named(&mut rng, "Campaign", 2, false),
            workflows: named(&mut rng, "Workflow", 2, false),
            businesses: named(&mut rng, "Business", 2, true),
            contacts: IndexMap::new(),
            deleted_contacts: BTreeSet::new(),
            tasks: IndexMap::new(),
            notes: IndexMap::new(),
            appointments: IndexMap::new(),
            custom_fields,
            tags: IndexMap::new(),
            last_added: base_time(),
            index: Default::default(),
        };
        tokens.insert(
            pit,
            Grant {
                kind: TokenKind::Pit,
                user_type: UserType::Location,
                location_id: Some(id.clone()),
                company_id: company_id.clone(),
                user_id: location.users[0].id.clone(),
                scopes: ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
                expires_at: None,
                revoked: false,
            },
        );
        locs.insert(id, location);
    }
    World {
        company_id,
        company_name: "Sandbox Agency".to_owned(),
        client_id,
        client_secret,
        locations: locs,
        tokens,
        refresh_tokens: HashMap::new(),
        codes: HashMap::new(),
        webhook_targets: Vec::new(),
        webhook_key_seed: STANDARD.encode(key_seed),
    }
}

/// Adds `n` deterministic contacts (with tasks, notes, appointments and custom
/// field values) to a location. Seeding does not emit webhooks.
pub fn add_contacts(inner: &mut Inner, location_id: &str, n: usize, seed: u64) -> usize {
    let Some(loc) = inner.world.locations.get_mut(location_id) else {
        return 0;
    };
    let start = loc.contacts.len() + loc.deleted_contacts.len();
    let loc_index = inner.world.locations.get_index_of(location_id).unwrap_or(0) as u64;
    let Some(loc) = inner.world.locations.get_mut(location_id) else {
        return 0;
    };
    let mut rng =
        StdRng::seed_from_u64(seed ^ (loc_index + 1).wrapping_mul(0x9e37_79b9) ^ start as u64);
    let fields: Vec<CustomField> = loc.custom_fields.values().cloned().collect();
    for k in 0..n {
        let i = start + k;
        let (first, last, email, phone) = person(i);
        let added = base_time() + chrono::Duration::minutes(i64::try_from(i).unwrap_or(0));
        let mut contact = Contact {
            id: new_id(&mut rng),
            location_id: loc.id.clone(),
            date_added: added,
            date_updated: added,
            ..Contact::default()
        };
        let tags = vec![
            TAGS[i % TAGS.len()].to_owned(),
            TAGS[(i * 3 + 1) % TAGS.len()].to_owned(),
        ];
        let mut tags_dedup = tags.clone();
        tags_dedup.dedup();
        let mut custom = Vec::new();
        if let Some(f) = fields.first() {
            custom.push(json!({"id": f.id, "value": format!("{:05}", 73_000 + i)}));
        }
        if let Some(f) = fields.get(1) {
            custom.push(json!({"id": f.id, "value": (i * 7) % 100}));
        }
        let f = &mut contact.fields;
        f.insert("firstName".into(), json!(first));
        f.insert("lastName".into(), json!(last));
        f.insert("name".into(), json!(format!("{first} {last}")));
        f.insert("email".into(), json!(email));
        f.insert("phone".into(), json!(phone));
        f.insert("companyName".into(), json!(format!("{last} Holdings")));
        f.insert("city".into(), json!("Austin"));
        f.insert("state".into(), json!("TX"));
        f.insert("country".into(), json!("US"));
        f.insert("postalCode".into(), json!(format!("{:05}", 73_000 + i)));
        f.insert("source".into(), json!("sandbox seed"));
        f.insert("type".into(), json!("lead"));
        f.insert("dnd".into(), json!(false));
        f.insert("tags".into(), json!(tags_dedup));
        f.insert("customFields".into(), Value::Array(custom));
        if i % 4 == 0 {
            f.insert(
                "assignedTo".into(),
                json!(loc.users[i % loc.users.len()].id),
            );
        }
        loc.ensure_tags(&tags_dedup, &mut rng);
        let cid = contact.id.clone();
        let user = loc.users[i % loc.users.len()].id.clone();
        let task = Task {
            id: new_id(&mut rng),
            contact_id: cid.clone(),
            title: format!("Follow up with {first}"),
            body: Some(format!("Call {first} {last} about the listing")),
            assigned_to: Some(user.clone()),
            due_date: super::state::iso(added + chrono::Duration::days(7)),
            completed: i % 3 == 0,
            date_added: added,
        };
        loc.tasks.insert(task.id.clone(), task);
        if i % 2 == 0 {
            let note = Note {
                id: new_id(&mut rng),
                contact_id: cid.clone(),
                body: format!("{first} prefers to be contacted in the morning."),
                user_id: Some(user.clone()),
                title: None,
                color: None,
                pinned: false,
                date_added: added,
            };
            loc.notes.insert(note.id.clone(), note);
        }
        if i % 3 == 0 {
            let cal = &loc.calendars[i % loc.calendars.len()];
            let start = (added + chrono::Duration::days(10)).fixed_offset();
            let appt = Appointment {
                id: new_id(&mut rng),
                location_id: loc.id.clone(),
                calendar_id: cal.id.clone(),
                contact_id: cid.clone(),
                group_id: String::new(),
                title: format!("Showing with {first}"),
                appointment_status: "confirmed".to_owned(),
                assigned_user_id: user,
                address: Some("1 Main St, Austin, TX".to_owned()),
                meeting_location_type: Some("address".to_owned()),
                notes: None,
                description: None,
                start,
                end: start + chrono::Duration::minutes(30),
                date_added: added,
                date_updated: added,
                rrule: None,
            };
            loc.appointments.insert(appt.id.clone(), appt);
        }
        if added > loc.last_added {
            loc.last_added = added;
        }
        loc.add_contact(contact);
    }
    inner.rt.touch();
    n
}
