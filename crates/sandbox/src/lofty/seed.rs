//! Deterministic Lofty world: the same seed gives the same team, members, keys,
//! ids and records.
//!
//! The seeded leads overlap GHL's seeded contacts on purpose: GHL seeds
//! [`person(i)`](crate::ghl::seed::person) for `i` in `0..N` per location, Lofty seeds
//! `person(i)` for `i` in `N/2 .. N/2 + N`. The first half of the leads therefore share
//! name, email and phone with GHL contacts (a sync has something to match), the second
//! half exist only in Lofty (a sync has something to create).

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use indexmap::IndexMap;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Map, json};

use super::state::{
    AppliedTag, CustomFieldDef, Entry, EntryKind, Inner, KeyGrant, Lead, Member, Note, OAuthGrant,
    Pipeline, TagDef, VendorApp, World,
};
use crate::ghl::seed::person;

/// Team members: (first, last, role name, admin). The first one owns the account.
pub const MEMBERS: &[(&str, &str, &str, bool)] = &[
    ("Alex", "Agent", "Owner", true),
    ("Blair", "Broker", "Agent", false),
    ("Casey", "Closer", "Agent", false),
];

/// The team's lead stages (lead pipelines), in board order.
pub const STAGES: &[&str] = &[
    "New Lead",
    "Attempted Contact",
    "Spoke with Customer",
    "Appointment Set",
    "Active",
    "Under Contract",
    "Closed",
    "Nurture",
    "Archived",
];

/// Team tags created by the seed.
pub const TAGS: &[&str] = &[
    "lead",
    "buyer",
    "seller",
    "vip",
    "newsletter",
    "hot",
    "cold",
];

/// 2^53: seeded ids start above it, so a client that parses ids through `f64` breaks.
const ID_FLOOR: i64 = 9_007_199_254_740_992;

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

fn hex(rng: &mut StdRng, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A personal API key: shaped like Lofty's ("JWS token with metadata", `eyJ...`).
pub fn api_key(rng: &mut impl RngCore, team_id: i64, user_id: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let mut nonce = [0u8; 8];
    rng.fill_bytes(&mut nonce);
    let claims = json!({
        "sub": user_id.to_string(),
        "teamId": team_id,
        "scope": "THIRD_PARTY_OPERATION",
        "jti": nonce.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut sig = [0u8; 32];
    rng.fill_bytes(&mut sig);
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Builds a fresh world from the seed (no leads yet; see [`add_leads`]).
pub fn world(seed: u64, contacts_per_location: usize) -> World {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x004c_6f66_7479);
    let team_id = 13_000_000 + rng.random_range(0..1_000_000_i64);
    let mut last_id = ID_FLOOR + rng.random_range(0..1_000_000_000_i64);
    let user_base = 844_510_972_000_000 + rng.random_range(0..1_000_000_i64);
    let group_id = 12_000 + rng.random_range(0..1000_i64);
    let members: Vec<Member> = MEMBERS
        .iter()
        .enumerate()
        .map(|(k, (first, last, role, admin))| {
            let k = i64::try_from(k).unwrap_or_default();
            Member {
                id: 113_200 + k,
                member_user_id: user_base + k * 7_919,
                first_name: (*first).to_owned(),
                last_name: (*last).to_owned(),
                email: format!(
                    "{}.{}@sandbox-realty.example.com",
                    first.to_lowercase(),
                    last.to_lowercase()
                ),
                phone: format!("+1512555{:04}", 100 + k),
                role: if *admin { 1 } else { 0 },
                role_name: (*role).to_owned(),
                is_admin: *admin,
                group_id,
                group_name: "Austin Office".to_owned(),
                time_zone_id: "America/Chicago".to_owned(),
            }
        })
        .collect();
    let mut api_keys = HashMap::new();
    let mut keys = Vec::new();
    for m in &members {
        let key = api_key(&mut rng, team_id, m.member_user_id);
        api_keys.insert(
            key.clone(),
            KeyGrant {
                member_user_id: m.member_user_id,
                revoked: false,
            },
        );
        keys.push(key);
    }
    let app = VendorApp {
        client_id: format!("sbx-{}", hex(&mut rng, 8)),
        client_secret: hex(&mut rng, 16),
        vendor_id: 100 + rng.random_range(0..900_i64),
    };
    let oauth_token = format!("lofty-at-{}", hex(&mut rng, 16));
    let mut tokens = HashMap::new();
    tokens.insert(
        oauth_token.clone(),
        OAuthGrant {
            member_user_id: members[0].member_user_id,
            apis: None,
            expires_ms: None,
            revoked: false,
            used: false,
            redirect_uri: None,
        },
    );
    let mut next = |rng: &mut StdRng| {
        last_id += rng.random_range(1..=97);
        last_id
    };
    let pipelines: Vec<Pipeline> = STAGES
        .iter()
        .map(|name| Pipeline {
            id: next(&mut rng),
            name: (*name).to_owned(),
        })
        .collect();
    let custom_fields = vec![
        CustomFieldDef {
            id: next(&mut rng),
            name: "Pincode".to_owned(),
            attribute_type: "text".to_owned(),
            params: None,
        },
        CustomFieldDef {
            id: next(&mut rng),
            name: "Lead Score".to_owned(),
            attribute_type: "number".to_owned(),
            params: None,
        },
        CustomFieldDef {
            id: next(&mut rng),
            name: "Preferred Contact".to_owned(),
            attribute_type: "single_select".to_owned(),
            params: Some(r#"{"option":["email","phone","sms"]}"#.to_owned()),
        },
    ];
    let created = base_time().timestamp_millis();
    let mut tags = IndexMap::new();
    for name in TAGS {
        let tag_id = next(&mut rng);
        tags.insert(
            tag_id,
            TagDef {
                tag_id,
                name: (*name).to_owned(),
                created_ms: created,
                creator_user_id: members[0].member_user_id,
            },
        );
    }
    World {
        team_id,
        team_name: "Sandbox Realty".to_owned(),
        members,
        leads: IndexMap::new(),
        notes: IndexMap::new(),
        entries: IndexMap::new(),
        tags,
        custom_fields,
        pipelines,
        subscriptions: IndexMap::new(),
        api_keys,
        tokens,
        refresh_tokens: HashMap::new(),
        codes: HashMap::new(),
        app,
        admin_key: keys[0].clone(),
        agent_key: keys[1].clone(),
        oauth_token,
        last_id,
        person_start: contacts_per_location / 2,
        persons_seeded: 0,
        lead_index: Default::default(),
    }
}

fn at(ms: i64) -> DateTime<FixedOffset> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
        .fixed_offset()
}

/// Adds `n` deterministic leads (continuing the `person(i)` sequence), with tags,
/// custom field values, a task each, a note on every second one and an appointment
/// on every third one. Seeding does not emit webhooks.
pub fn add_leads(inner: &mut Inner, n: usize, seed: u64) -> usize {
    let w = &mut inner.world;
    let done = w.persons_seeded;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x1ead ^ (done as u64).wrapping_mul(0x9e37_79b9));
    let members: Vec<i64> = w.members.iter().map(|m| m.member_user_id).collect();
    let admin = members[0];
    for k in 0..n {
        let i = w.person_start + done + k;
        let (first, last, email, phone) = person(i);
        let created =
            (base_time() + Duration::minutes(i64::try_from(i).unwrap_or(0))).timestamp_millis();
        let lead_id = w.next_id(&mut rng);
        let assigned = members[i % members.len()];
        let stage = &w.pipelines[i % w.pipelines.len()];
        let (stage_id, stage_name) = (stage.id, stage.name.clone());
        let mut tag_names = vec![TAGS[i % TAGS.len()], TAGS[(i * 3 + 1) % TAGS.len()]];
        tag_names.dedup();
        let mut tags = Vec::new();
        for name in tag_names {
            let tag_id = w.ensure_tag(name, admin, created, &mut rng);
            tags.push(AppliedTag {
                tag_id,
                name: name.to_owned(),
                created_ms: created,
                creator_user_id: admin,
            });
        }
        let mut custom = IndexMap::new();
        custom.insert("Pincode".to_owned(), format!("{:05}", 73_000 + i));
        custom.insert("Lead Score".to_owned(), ((i * 7) % 100).to_string());
        let mut fields = Map::new();
        fields.insert("firstName".into(), json!(first));
        fields.insert("lastName".into(), json!(last));
        fields.insert("emails".into(), json!([email]));
        fields.insert("phones".into(), json!([phone]));
        fields.insert("source".into(), json!("sandbox seed"));
        fields.insert(
            "leadTypes".into(),
            json!([if i.is_multiple_of(3) { 1 } else { 2 }]),
        );
        fields.insert("city".into(), json!("Austin"));
        fields.insert("state".into(), json!("TX"));
        fields.insert("zipCode".into(), json!(format!("{:05}", 73_000 + i)));
        let personal = i % 5 == 4;
        let lead = Lead {
            lead_id,
            lead_user_id: lead_id + 1,
            fields,
            stage_id,
            stage: stage_name,
            assigned_user_id: assigned,
            tags,
            custom,
            ownership_scope: if personal { "PERSONAL" } else { "TEAM" }.to_owned(),
            ownership_id: if personal { assigned } else { 0 },
            hidden: false,
            properties: Vec::new(),
            inquiry: None,
            created_ms: created,
            updated_ms: created,
            assign_ms: created,
            visible_at_ms: 0,
            trashed: None,
        };
        w.put_lead(lead);
        let task_id = w.next_id(&mut rng);
        w.entries.insert(
            task_id,
            Entry {
                task_id,
                kind: EntryKind::Task,
                lead_id,
                task_way: "Call".to_owned(),
                content: format!("Follow up with {first}"),
                start: None,
                end: at(created + Duration::days(7).num_milliseconds()),
                time_zone_code: "America/Chicago".to_owned(),
                all_day: false,
                finished: i.is_multiple_of(3),
                finish_ms: i.is_multiple_of(3).then_some(created + 3_600_000),
                assigned_role: "Agent".to_owned(),
                assigned_user_id: assigned,
                creator_id: admin,
                address: None,
                reminder_type: 0,
                smart_plan: i % 11 == 10,
                created_ms: created,
                updated_ms: created,
            },
        );
        if i.is_multiple_of(2) {
            let note_id = w.next_id(&mut rng);
            let timeline_id = w.next_id(&mut rng);
            w.notes.insert(
                note_id,
                Note {
                    note_id,
                    timeline_id,
                    lead_id,
                    content: format!("{first} prefers to be contacted in the morning."),
                    is_pin: false,
                    system: false,
                    creator_id: assigned,
                    last_editor_id: assigned,
                    created_ms: created,
                    updated_ms: created,
                    visible_at_ms: 0,
                },
            );
        }
        if i.is_multiple_of(3) {
            let appt_id = w.next_id(&mut rng);
            let start = created + Duration::days(10).num_milliseconds();
            w.entries.insert(
                appt_id,
                Entry {
                    task_id: appt_id,
                    kind: EntryKind::Appointment,
                    lead_id,
                    task_way: "Appointment".to_owned(),
                    content: format!("Showing with {first}"),
                    start: Some(at(start)),
                    end: at(start + 1_800_000),
                    time_zone_code: "America/Chicago".to_owned(),
                    all_day: false,
                    finished: false,
                    finish_ms: None,
                    assigned_role: "Agent".to_owned(),
                    assigned_user_id: assigned,
                    creator_id: admin,
                    address: Some("1 Main St, Austin, TX".to_owned()),
                    reminder_type: 0,
                    smart_plan: false,
                    created_ms: created,
                    updated_ms: created,
                },
            );
        }
    }
    w.persons_seeded += n;
    inner.rt.dirty = true;
    n
}
