//! Deterministic tenant building: the same seed gives the same tenant, client
//! credentials, users, items, comments and files.
//!
//! Users are people of the shared seeded population ([`person`]): persons 0, 1
//! and 2 are also the first seeded contacts of every GHL location (same names,
//! same emails), so matching Lytho users to GHL contacts can be tested; persons
//! 10,000 and up exist only in Lytho.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::state::{Comment, File, Item, Kind, User, UserStatus, World, escape_html};
use crate::ghl::seed::person;

/// Persons shared with GHL's seeded contacts.
pub const SHARED_PEOPLE: std::ops::Range<usize> = 0..3;
/// Persons that exist only in Lytho.
pub const LYTHO_ONLY_PEOPLE: std::ops::Range<usize> = 10_000..10_003;

/// Items seeded per type.
pub const SEED_COUNTS: [(Kind, usize); 5] = [
    (Kind::WorkRequest, 12),
    (Kind::Task, 30),
    (Kind::Project, 6),
    (Kind::Proof, 8),
    (Kind::Campaign, 4),
];

const FIRST_USER_ID: i32 = 7_001;
const FIRST_COMMENT_ID: i32 = 80_001;
const FIRST_FILE_ID: i32 = 60_001;

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

fn names(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::WorkRequest => &[
            "Brochure request",
            "Social ad request",
            "Event banner request",
            "Newsletter request",
        ],
        Kind::Task => &[
            "Design banner",
            "Write listing copy",
            "Review proof",
            "Prepare listing photos",
            "Update landing page",
        ],
        Kind::Project => &["Spring campaign kit", "Open house kit", "Brand refresh"],
        Kind::Proof => &["Flyer proof", "Email proof", "Postcard proof"],
        Kind::Campaign => &["Q1 listings", "Summer open houses", "Holiday mailer"],
    }
}

fn alnum(rng: &mut StdRng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| A[rng.random_range(0..A.len())] as char)
        .collect()
}

/// A Keycloak-style client secret (32 alphanumerics).
pub fn new_secret(rng: &mut StdRng) -> String {
    alnum(rng, 32)
}

/// Builds a fresh tenant from the seed.
pub fn world(seed: u64) -> World {
    // Distinct stream from the GHL world built from the same seed.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x4c59_5448_4f00);
    let tenant = format!("sandbox-{}", alnum(&mut rng, 6).to_lowercase());
    let client_id = format!("wf-oa-{}", alnum(&mut rng, 16).to_lowercase());
    let client_secret = new_secret(&mut rng);
    let account_id = 4_000 + rng.random_range(0..1_000);
    let mut users = BTreeMap::new();
    for (n, i) in SHARED_PEOPLE.chain(LYTHO_ONLY_PEOPLE).enumerate() {
        let (first, last, email, _phone) = person(i);
        let id = FIRST_USER_ID + i32::try_from(n).unwrap_or(0);
        let status = if i == LYTHO_ONLY_PEOPLE.end - 1 {
            UserStatus::Disabled
        } else {
            UserStatus::Active
        };
        users.insert(
            id,
            User {
                id,
                first_name: first,
                last_name: last,
                email,
                status,
                person: i,
            },
        );
    }
    let mut world = World {
        account_id,
        tenant,
        client_id,
        client_secret,
        users,
        items: BTreeMap::new(),
        comments: BTreeMap::new(),
        next_ids: BTreeMap::new(),
        next_comment_id: FIRST_COMMENT_ID,
        next_file_id: FIRST_FILE_ID,
        clock: base_time(),
        tokens: HashMap::new(),
        presigned: HashMap::new(),
    };
    for (kind, n) in SEED_COUNTS {
        add_items(&mut world, kind, n, false);
    }
    world
}

/// Adds `n` deterministic items of a type, each with two users, a comment (two for
/// every third item), a file and (except work requests) a description.
///
/// Items seeded at start get times in January 2026; items added later (`live`)
/// are created now, so pollers see them as changes. Returns the new ids.
pub fn add_items(world: &mut World, kind: Kind, n: usize, live: bool) -> Vec<i32> {
    let user_ids: Vec<i32> = world.users.keys().copied().collect();
    let mut added = Vec::with_capacity(n);
    for _ in 0..n {
        let id = world.next_id(kind);
        let k = usize::try_from(id - kind.id_base()).unwrap_or(0);
        let kind_offset = Kind::ALL.iter().position(|x| *x == kind).unwrap_or(0);
        let minutes = i64::try_from(k * 60 + kind_offset * 7).unwrap_or(0);
        let (created, modified) = if live {
            let t = world.tick();
            (t, t)
        } else {
            let created = base_time() + Duration::minutes(minutes);
            let modified = created + Duration::minutes(5);
            if modified > world.clock {
                world.clock = modified;
            }
            (created, modified)
        };
        let base = names(kind)[k % names(kind).len()];
        let name = format!("{base} {}", k + 1);
        let users = if user_ids.is_empty() {
            Vec::new()
        } else {
            let a = user_ids[k % user_ids.len()];
            let b = user_ids[(k + 1) % user_ids.len()];
            if a == b { vec![a] } else { vec![a, b] }
        };
        let file_id = world.next_file_id;
        world.next_file_id += 1;
        let file_name = if kind == Kind::WorkRequest {
            format!("deliverable-{id}.pdf")
        } else {
            format!("{}-{id}-v1.pdf", kind.path())
        };
        let item = Item {
            kind,
            id,
            name: name.clone(),
            archived: k % 7 == 6,
            due_date: Some(created + Duration::days(7 + i64::try_from(k % 5).unwrap_or(0))),
            completed_date: (kind == Kind::Task && k % 4 == 0).then(|| created + Duration::days(2)),
            created_date: created,
            modified_date: modified,
            description: kind
                .has_description()
                .then(|| format!("<p>Deliverables for <b>{}</b>.</p>", escape_html(&name))),
            user_ids: users.clone(),
            files: vec![File {
                file_id,
                file_version_id: file_id + 100_000,
                file_version_name: file_name,
                content: format!("%PDF-1.4 sandbox file {file_id} of {} {id}\n", kind.path()),
            }],
        };
        world.items.entry(kind).or_default().insert(id, item);
        for (c, user_id) in users.iter().enumerate() {
            if c == 1 && k % 3 != 0 {
                break;
            }
            let author = world
                .users
                .get(user_id)
                .map(|u| u.first_name.clone())
                .unwrap_or_default();
            let html = if c == 0 {
                format!("<p>{author} started on <b>{}</b>.</p>", escape_html(&name))
            } else {
                "<p>Looks good, <b>approved</b>.</p>".to_owned()
            };
            let comment_id = world.next_comment_id;
            world.next_comment_id += 1;
            let at = if live {
                modified
            } else {
                created + Duration::minutes(1 + i64::try_from(c).unwrap_or(0))
            };
            world.comments.insert(
                comment_id,
                Comment {
                    id: comment_id,
                    kind,
                    item_id: id,
                    user_id: *user_id,
                    html,
                    created_date: at,
                },
            );
        }
        added.push(id);
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_tenant_and_shared_people() {
        let a = world(7);
        let b = world(7);
        assert_eq!(a.client_secret, b.client_secret);
        assert_eq!(a.tenant, b.tenant);
        assert!(a.client_id.starts_with("wf-oa-"));
        assert_ne!(world(8).client_secret, a.client_secret);
        let emails: Vec<&str> = a.users.values().map(|u| u.email.as_str()).collect();
        assert_eq!(emails[0], person(0).2);
        assert_eq!(emails[3], person(10_000).2);
        assert_eq!(a.items[&Kind::Task].len(), 30);
        // Every user is on some item.
        for user in a.users.keys() {
            assert!(
                a.items
                    .values()
                    .flat_map(|m| m.values())
                    .any(|i| i.user_ids.contains(user))
            );
        }
        let max = a
            .items
            .values()
            .flat_map(|m| m.values())
            .map(|i| i.modified_date)
            .max()
            .unwrap();
        assert_eq!(a.clock, max);
    }
}
