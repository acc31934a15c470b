//! The loop test (issue 10): 1,000 random edits over both sides of the Lofty leads
//! <-> GHL contacts recipe, made through the systems' own APIs (GHL update-contact,
//! Lofty update-lead) on 50 linked people, in 20 rounds with the engine run to
//! quiescence after each (Lofty's webhook batch flushed, the queue drained, the
//! clock moved past the retry waits). Every edit sets one field of one record to a
//! value it did not hold: first name, last name, source, phone, the lead score
//! custom field, or a tag added. Some people are edited on both sides in a round:
//! in different fields, or in the same field (a conflict, which `newest` gives to
//! the edit made later, in a later second: Lofty's times have whole seconds), or
//! with the same value on both sides (nothing to write).
//!
//! The test keeps its own model of both sides from its edit script and the rules
//! (two-way, newest wins, tags a union, GHL phones E.164, Lofty's as typed), never
//! from the engine's log, and proves:
//! - both sides hold what the model says, field by field, read through the APIs;
//! - the engine's GHL writes and its Lofty writes (the sandboxes' counters less the
//!   test's own edits) each equal the model's real changes: one write to a side
//!   per person and round in which that side had to receive a value it did not
//!   hold; no other write, and no GHL read (Lofty reads are counted and printed);
//! - after the queue drains and the clock moves 10 minutes past every retry and
//!   poll, no API call is made on either side (no ping-pong), no job is left or
//!   dead, and no review is open;
//! - a reconciliation walk of each side then finds nothing the engine missed.
//!
//! Each round's GHL webhooks are run before Lofty's batch, as the systems deliver
//! them (GHL at once, Lofty batched). The ignored variant runs them after it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use testkit::{Backend, Calls, Spec, TestApp};

/// People linked on both sides before the edits start.
const PEOPLE: usize = 50;
/// Edits in all, spread evenly over the rounds.
const EDITS: usize = 1_000;
const ROUNDS: usize = 20;
/// Of the people edited on both sides in a round: how many in the same field.
const SAME_FIELD: f64 = 0.5;
/// Of those: how many set the same value on both sides (nothing to write).
const SAME_VALUE: f64 = 0.15;
const SEED: u64 = 1010;
const SCORE_KEY: &str = "contact.lead_score";
const SCORE_NAME: &str = "Lead Score";

/// When the engine sees a round's GHL webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// Before Lofty's batch: GHL sends each webhook at once, Lofty batches.
    GhlFirst,
    /// After Lofty's batch has been run (a GHL webhook delayed).
    LoftyFirst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum System {
    Ghl,
    Lofty,
}

impl System {
    fn other(self) -> Self {
        match self {
            Self::Ghl => Self::Lofty,
            Self::Lofty => Self::Ghl,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    First,
    Last,
    Source,
    Phone,
    Score,
    Tag,
}

const FIELDS: [Field; 6] = [
    Field::First,
    Field::Last,
    Field::Source,
    Field::Phone,
    Field::Score,
    Field::Tag,
];

/// A value an edit sets; `n` makes it new (no edit sets a value already there).
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Text(String),
    /// A US number's ten digits.
    Phone(u64),
    Score(i64),
    /// A tag added.
    Tag(String),
}

impl Val {
    fn fresh(field: Field, n: usize) -> Self {
        match field {
            Field::First => Self::Text(format!("First{n}")),
            Field::Last => Self::Text(format!("Last{n}")),
            Field::Source => Self::Text(format!("source{n}")),
            Field::Phone => Self::Phone(4_153_000_000 + n as u64),
            Field::Score => Self::Score(1_000 + n as i64),
            Field::Tag => Self::Tag(format!("tag{n}")),
        }
    }
}

fn e164(digits: u64) -> String {
    format!("+1{digits}")
}

/// How Lofty users type a number (Lofty keeps it as given).
fn national(digits: u64) -> String {
    let d = digits.to_string();
    format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..])
}

/// What one side holds of a person, as its API returns it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Held {
    first: String,
    last: String,
    source: String,
    /// As stored: GHL E.164; Lofty what it was given.
    phone: String,
    score: i64,
    tags: BTreeSet<String>,
}

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} source={} phone={} score={} tags={:?}",
            self.first, self.last, self.source, self.phone, self.score, self.tags
        )
    }
}

impl Held {
    /// Sets what `system` holds after an edit there, or after receiving `v`.
    fn set(&mut self, system: System, field: Field, v: &Val, own_edit: bool) {
        match (field, v) {
            (Field::First, Val::Text(t)) => self.first = t.clone(),
            (Field::Last, Val::Text(t)) => self.last = t.clone(),
            (Field::Source, Val::Text(t)) => self.source = t.clone(),
            (Field::Phone, Val::Phone(d)) => {
                // GHL keeps E.164; Lofty keeps what a user typed, and what the
                // engine writes (GHL's E.164) when it comes from GHL.
                self.phone = if system == System::Lofty && own_edit {
                    national(*d)
                } else {
                    e164(*d)
                };
            }
            (Field::Score, Val::Score(s)) => self.score = *s,
            (Field::Tag, Val::Tag(t)) => {
                self.tags.insert(t.clone());
            }
            other => panic!("no such edit: {other:?}"),
        }
    }
}

/// One person, linked on both sides.
#[derive(Debug, Clone)]
struct Person {
    email: String,
    lead: i64,
    contact: String,
    ghl: Held,
    lofty: Held,
    /// The model's writes to each side, and the edits, for a failure's message.
    writes: (u64, u64),
    log: Vec<String>,
}

/// One edit of the script.
#[derive(Debug, Clone)]
struct Edit {
    person: usize,
    system: System,
    field: Field,
    value: Val,
}

/// The figures the model predicts and the sandboxes count.
#[derive(Debug, Default)]
struct Expected {
    ghl_writes: u64,
    lofty_writes: u64,
    conflicts: u64,
    agreements: u64,
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

async fn ghl_events(app: &TestApp) -> i64 {
    app.store
        .scalar_i64("SELECT COUNT(*) FROM events WHERE source = 'ghl'")
        .await
        .unwrap()
}

async fn jobs_left(app: &TestApp) -> i64 {
    app.store
        .scalar_i64("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
        .await
        .unwrap()
}

/// Runs the engine until nothing is left to do: Lofty's pending webhooks flushed,
/// the GHL webhooks of the engine's own writes in, the queue drained, the clock
/// moved past the retry waits; twice in a row nothing happened.
async fn quiesce(app: &TestApp, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet = 0;
    while quiet < 2 {
        assert!(
            Instant::now() < deadline,
            "{what}: the engine never settles"
        );
        let events = ghl_events(app).await;
        let flushed = app.sandbox.lofty().flush_webhooks().await;
        let ran = app.drain().await;
        // The GHL webhooks of writes just made are delivered in a moment.
        tokio::time::sleep(Duration::from_millis(25)).await;
        let left = jobs_left(app).await;
        let idle = flushed == 0 && ran.done + ran.failed == 0 && left == 0;
        if idle && ghl_events(app).await == events {
            quiet += 1;
        } else {
            quiet = 0;
        }
        if left > 0 {
            app.store.advance_clock(Duration::from_secs(6));
        }
    }
}

/// Waits until the GHL webhooks of the test's own edits are all in the journal.
async fn ghl_events_in(app: &TestApp, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let have = ghl_events(app).await;
        assert!(have <= want, "{have} GHL webhooks, {want} expected");
        if have == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{have} of {want} GHL webhooks arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn ghl_held(contact: &ghl::models::Contact, score_id: &str) -> Held {
    let json = serde_json::to_value(contact).unwrap();
    let score = json["customFields"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["id"] == score_id)
        .map_or(0, |f| match &f["value"] {
            Value::Number(n) => n.as_i64().unwrap(),
            Value::String(s) => s.parse().unwrap(),
            other => panic!("lead score {other}"),
        });
    Held {
        first: contact.first_name.clone().unwrap_or_default(),
        last: contact.last_name.clone().unwrap_or_default(),
        source: contact.source.clone().unwrap_or_default(),
        phone: contact.phone.clone().unwrap_or_default(),
        score,
        tags: contact.tags.iter().cloned().collect(),
    }
}

fn lofty_held(lead: &lofty::models::Lead) -> Held {
    Held {
        first: lead.first_name.clone().unwrap_or_default(),
        last: lead.last_name.clone().unwrap_or_default(),
        source: lead.source.clone().unwrap_or_default(),
        phone: lead.phones.first().cloned().unwrap_or_default(),
        score: lead
            .custom_attributes
            .iter()
            .find(|a| a.attribute_name == SCORE_NAME)
            .and_then(|a| a.value.as_deref())
            .map_or(0, |v| v.parse().unwrap()),
        tags: lead.tags.iter().map(|t| t.tag_name.clone()).collect(),
    }
}

/// The round's edits: `per_round` distinct (person, side) slots, each one field.
fn script(rng: &mut StdRng, per_round: usize, n: &mut usize) -> Vec<Edit> {
    let mut slots: Vec<(usize, System)> = (0..PEOPLE)
        .flat_map(|p| [(p, System::Ghl), (p, System::Lofty)])
        .collect();
    slots.shuffle(rng);
    slots.truncate(per_round);
    let mut by_person: BTreeMap<usize, Vec<System>> = BTreeMap::new();
    for (p, s) in slots {
        by_person.entry(p).or_default().push(s);
    }
    let mut edits = Vec::new();
    for (person, systems) in by_person {
        let mut fresh = |field: Field| {
            *n += 1;
            Val::fresh(field, *n)
        };
        let field = *FIELDS.choose(rng).unwrap();
        if systems.len() == 1 {
            edits.push(Edit {
                person,
                system: systems[0],
                field,
                value: fresh(field),
            });
            continue;
        }
        let (ghl_field, lofty_field) = if rng.random_bool(SAME_FIELD) {
            (field, field)
        } else {
            let other = *FIELDS
                .iter()
                .filter(|f| **f != field)
                .collect::<Vec<_>>()
                .choose(rng)
                .unwrap();
            (field, *other)
        };
        let ghl_value = fresh(ghl_field);
        let lofty_value = if ghl_field == lofty_field && rng.random_bool(SAME_VALUE) {
            ghl_value.clone()
        } else {
            fresh(lofty_field)
        };
        edits.push(Edit {
            person,
            system: System::Ghl,
            field: ghl_field,
            value: ghl_value,
        });
        edits.push(Edit {
            person,
            system: System::Lofty,
            field: lofty_field,
            value: lofty_value,
        });
    }
    edits
}

/// What the rules make of one round for one person: both sides' new holdings, and
/// which sides had to receive a value they did not hold. `later` is the side whose
/// edits were made later (the newer record, which `newest` lets win).
fn apply_rules(
    person: &mut Person,
    edits: &[&Edit],
    later: System,
    expected: &mut Expected,
) -> (bool, bool) {
    let (mut to_ghl, mut to_lofty) = (false, false);
    let edit_of = |s: System| edits.iter().find(|e| e.system == s);
    let (g, l) = (edit_of(System::Ghl), edit_of(System::Lofty));
    let mut receive = |person: &mut Person, to: System, field: Field, v: &Val| match to {
        System::Ghl => {
            person.ghl.set(System::Ghl, field, v, false);
            to_ghl = true;
        }
        System::Lofty => {
            person.lofty.set(System::Lofty, field, v, false);
            to_lofty = true;
        }
    };
    match (g, l) {
        (None, None) => {}
        (Some(e), None) | (None, Some(e)) => {
            own(person, e);
            receive(person, e.system.other(), e.field, &e.value);
        }
        (Some(g), Some(l)) if g.field != l.field => {
            own(person, g);
            own(person, l);
            receive(person, System::Lofty, g.field, &g.value);
            receive(person, System::Ghl, l.field, &l.value);
        }
        (Some(g), Some(l)) if g.value == l.value => {
            // Both set the same value: in sync, nothing to write.
            own(person, g);
            own(person, l);
            expected.agreements += 1;
        }
        (Some(g), Some(l)) if g.field == Field::Tag => {
            // Tags are a set: each side gets the other's.
            own(person, g);
            own(person, l);
            receive(person, System::Lofty, g.field, &g.value);
            receive(person, System::Ghl, l.field, &l.value);
        }
        (Some(g), Some(l)) => {
            own(person, g);
            own(person, l);
            expected.conflicts += 1;
            let winner = if later == System::Ghl { g } else { l };
            receive(person, winner.system.other(), winner.field, &winner.value);
        }
    }
    (to_ghl, to_lofty)
}

/// An edit lands on its own side.
fn own(person: &mut Person, e: &Edit) {
    match e.system {
        System::Ghl => person.ghl.set(System::Ghl, e.field, &e.value, true),
        System::Lofty => person.lofty.set(System::Lofty, e.field, &e.value, true),
    }
}

/// Makes one edit through the system's API.
async fn edit(ghl: &ghl::GhlClient, lofty: &lofty::LoftyClient, person: &Person, e: &Edit) {
    match e.system {
        System::Ghl => {
            let mut u = ghl::models::UpdateContact::default();
            match &e.value {
                Val::Text(t) => match e.field {
                    Field::First => u.first_name = Some(t.clone()),
                    Field::Last => u.last_name = Some(t.clone()),
                    Field::Source => u.source = Some(t.clone()),
                    other => panic!("{other:?} is not text"),
                },
                Val::Phone(d) => u.phone = Some(e164(*d)),
                Val::Score(s) => {
                    u.custom_fields = Some(vec![ghl::models::CustomFieldInput {
                        id: None,
                        key: Some(SCORE_KEY.to_owned()),
                        field_value: json!(s),
                    }]);
                }
                Val::Tag(t) => {
                    // GHL's update replaces the tags: the ones it holds, and one more.
                    let mut tags: Vec<String> = person.ghl.tags.iter().cloned().collect();
                    tags.push(t.clone());
                    u.tags = Some(tags);
                }
            }
            ghl.update_contact(&person.contact, &u).await.unwrap();
        }
        System::Lofty => {
            let mut u = lofty::models::UpdateLead::default();
            match &e.value {
                Val::Text(t) => match e.field {
                    Field::First => u.first_name = Some(t.clone()),
                    Field::Last => u.last_name = Some(t.clone()),
                    Field::Source => u.source = Some(t.clone()),
                    other => panic!("{other:?} is not text"),
                },
                Val::Phone(d) => u.phones = Some(vec![national(*d)]),
                Val::Score(s) => {
                    u.custom_attribute_list = Some(vec![lofty::models::CustomAttribute::new(
                        SCORE_NAME,
                        s.to_string(),
                    )]);
                }
                Val::Tag(t) => u.tags_add = Some(vec![t.clone()]),
            }
            lofty.update_lead(person.lead, &u).await.unwrap();
        }
    }
}

/// Both sides of every person, read through the APIs, against the model.
async fn compare(
    app: &TestApp,
    ghl: &ghl::GhlClient,
    lofty: &lofty::LoftyClient,
    people: &[Person],
    score_id: &str,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for p in people {
        let g = ghl_held(&ghl.get_contact(&p.contact).await.unwrap(), score_id);
        let l = lofty_held(&lofty.get_lead(p.lead).await.unwrap());
        if g != p.ghl || l != p.lofty {
            let history: Vec<String> = app
                .store
                .history(&p.email, 100)
                .await
                .unwrap()
                .iter()
                .map(|h| {
                    format!(
                        "{} {} {} -> {}: {} {}",
                        h.at, h.decision, h.source, h.target, h.reason, h.diffs
                    )
                })
                .collect();
            wrong.push(format!(
                "{} (lead {}, contact {}):\n  GHL   holds {g}\n  model says  {}\n  Lofty holds {l}\n  model says  {}\n  history:\n    {}",
                p.email,
                p.lead,
                p.contact,
                p.ghl,
                p.lofty,
                history.join("\n    ")
            ));
        }
    }
    wrong
}

async fn loop_test(backend: Backend, arrival: Arrival) {
    let started = Instant::now();
    let mut spec = Spec::default().on(backend);
    spec.sandbox.rate.max_per_window = 1_000_000;
    spec.sandbox.rate.daily = 10_000_000;
    // Only the test's people on either side (a walk at the end sees them alone).
    spec.sandbox.contacts_per_location = 0;
    let Some(app) =
        testkit::spawn_app_configured(spec, |c| c.worker.reconcile_every_secs = Some(0)).await
    else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
        return;
    };
    let sandbox = app.sandbox.lofty();
    sandbox.set_rate(Duration::from_secs(60), 1_000_000, 1_000_000);
    sandbox.set_consistency_delay(Duration::ZERO);
    // Lofty's webhook batches go out when the test flushes them (the engine sees
    // a round's Lofty changes after its GHL ones, as Lofty's batching makes it).
    let config = app
        .http
        .post(format!(
            "{}/_sandbox/config",
            app.sandbox.info().lofty.base_url
        ))
        .json(&json!({"webhook_batch_ms": 3_600_000}))
        .send()
        .await
        .unwrap();
    assert!(config.status().is_success());
    let location = app.location(0).id.clone();
    app.sandbox_control(
        &format!("/_sandbox/locations/{location}/settings"),
        json!({"allowDuplicateContact": true}),
    )
    .await;
    let (ghl_conn, _, flow) = app.enable_contacts_sync().await;
    let ghl_connector = app
        .connectors()
        .open(&ghl_conn)
        .await
        .unwrap()
        .into_ghl()
        .unwrap();
    let ghl = ghl_connector.client();
    let lofty = app.lofty_client();
    let score_id = app.sandbox.ghl().with_world(|w| {
        w.locations[&location]
            .custom_field_by_key(SCORE_KEY)
            .map(|f| f.id.clone())
            .unwrap()
    });

    // N people, made in Lofty; the engine makes their GHL contacts.
    let mut leads = Vec::new();
    for i in 0..PEOPLE {
        let email = format!("loop{i}@example.com");
        let lead = lofty
            .create_lead(&lofty::models::CreateLead {
                first_name: format!("Loop{i}"),
                last_name: Some("Person".to_owned()),
                emails: Some(vec![email.clone()]),
                phones: Some(vec![national(4_152_000_000 + i as u64)]),
                source: Some("seed".to_owned()),
                tags: Some(vec!["loop".to_owned()]),
                custom_attribute_list: Some(vec![lofty::models::CustomAttribute::new(
                    SCORE_NAME,
                    i.to_string(),
                )]),
                ..Default::default()
            })
            .await
            .unwrap();
        leads.push((email, lead));
    }
    quiesce(&app, "the first sync").await;
    let mut people = Vec::new();
    for (email, lead) in leads {
        let pair = app
            .store
            .pair(&flow.id, "right", &lead.to_string())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("lead {lead} is not linked"));
        let l = lofty_held(&lofty.get_lead(lead).await.unwrap());
        let g = ghl_held(&ghl.get_contact(&pair.left_id).await.unwrap(), &score_id);
        assert_eq!(
            (&g.first, &g.last, &g.source, g.score, &g.tags),
            (&l.first, &l.last, &l.source, l.score, &l.tags),
            "{email}"
        );
        assert_eq!(g.phone, e164(4_152_000_000 + people.len() as u64));
        people.push(Person {
            email,
            lead,
            contact: pair.left_id,
            ghl: g,
            lofty: l,
            writes: (0, 0),
            log: Vec::new(),
        });
    }
    let setup = started.elapsed();

    // The rounds: edits through the APIs, the model's expectations, then the engine.
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut expected = Expected::default();
    let mut n = 0;
    let mut edits_made = 0;
    let (mut ghl_edits, mut lofty_edits) = (0u64, 0u64);
    let before = Calls::now(&app, &location).await;
    for round in 0..ROUNDS {
        let script = script(&mut rng, EDITS / ROUNDS, &mut n);
        let first = if rng.random_bool(0.5) {
            System::Ghl
        } else {
            System::Lofty
        };
        let events_before = ghl_events(&app).await;
        let mut ghl_events_now = 0;
        for phase in [first, first.other()] {
            // One phase's edits at once (each person at most once a side a round).
            let phase_edits: Vec<&Edit> = script.iter().filter(|e| e.system == phase).collect();
            futures_util::future::join_all(
                phase_edits
                    .iter()
                    .map(|e| edit(ghl, &lofty, &people[e.person], e)),
            )
            .await;
            edits_made += phase_edits.len();
            match phase {
                System::Ghl => {
                    ghl_edits += phase_edits.len() as u64;
                    ghl_events_now += phase_edits
                        .iter()
                        .map(|e| if e.field == Field::Tag { 2 } else { 1 })
                        .sum::<i64>();
                }
                System::Lofty => lofty_edits += phase_edits.len() as u64,
            }
            if phase == System::Ghl && first == System::Ghl {
                // The later side's record must be the newer by the systems' own
                // clocks: Lofty's have whole seconds, so its edits wait for the
                // next one. (GHL's have milliseconds: after Lofty's, they are newer.)
                let now = now_ms();
                tokio::time::sleep(Duration::from_millis(1_000 - now % 1_000 + 20)).await;
            }
        }
        for (i, person) in people.iter_mut().enumerate() {
            let mine: Vec<&Edit> = script.iter().filter(|e| e.person == i).collect();
            let (to_ghl, to_lofty) = apply_rules(person, &mine, first.other(), &mut expected);
            expected.ghl_writes += u64::from(to_ghl);
            expected.lofty_writes += u64::from(to_lofty);
            person.writes.0 += u64::from(to_ghl);
            person.writes.1 += u64::from(to_lofty);
            if !mine.is_empty() {
                person.log.push(format!(
                    "round {round} ({:?} later): {:?} -> writes to GHL {to_ghl}, to Lofty {to_lofty}",
                    first.other(),
                    mine.iter()
                        .map(|e| format!("{:?} {:?} {:?}", e.system, e.field, e.value))
                        .collect::<Vec<_>>()
                ));
            }
        }
        // The round's GHL webhooks are in; Lofty's batch comes after them (GHL
        // sends at once, Lofty batches), unless the GHL ones are held back.
        ghl_events_in(&app, events_before + ghl_events_now).await;
        if arrival == Arrival::LoftyFirst {
            app.store
                .execute_raw("UPDATE jobs SET run_at = run_at + 60000 WHERE kind = 'ghl.event' AND status = 'queued'")
                .await
                .unwrap();
            app.sandbox.lofty().flush_webhooks().await;
            app.drain().await;
            app.store.advance_clock(Duration::from_secs(61));
        }
        app.drain().await;
        quiesce(&app, &format!("round {round}")).await;
    }
    assert_eq!(edits_made, EDITS);
    let rounds_took = started.elapsed() - setup;

    // Writes are the real changes, side by side.
    let after = Calls::now(&app, &location).await;
    let made = after.since(&before);
    let ghl_writes = Calls::count(&made.ghl, true) - ghl_edits;
    let ghl_reads = Calls::count(&made.ghl, false);
    let lofty_writes = Calls::count(&made.lofty, true) - lofty_edits;
    let lofty_reads = Calls::count(&made.lofty, false);
    let wrong = compare(&app, ghl, &lofty, &people, &score_id).await;
    let history = app.store.runs(&flow.id, 100_000).await.unwrap();
    let decided = |d: &str| history.iter().filter(|h| h.decision == d).count();
    println!(
        "{backend:?} loop test ({arrival:?}): {EDITS} edits ({ghl_edits} in GHL, {lofty_edits} in Lofty) over {PEOPLE} people in {ROUNDS} rounds; {} same-field conflicts, {} same-value edits on both sides",
        expected.conflicts, expected.agreements
    );
    println!(
        "  real changes (the model): {} GHL writes, {} Lofty writes; the engine made {ghl_writes} GHL writes and {lofty_writes} Lofty writes, {ghl_reads} GHL reads and {lofty_reads} Lofty reads",
        expected.ghl_writes, expected.lofty_writes
    );
    println!(
        "  API calls per edit: {:.2} (GHL {:.2}, Lofty {:.2}: writes {:.2}, reads {:.2}); routes: GHL {:?}, Lofty {:?}",
        (ghl_writes + ghl_reads + lofty_writes + lofty_reads) as f64 / EDITS as f64,
        (ghl_writes + ghl_reads) as f64 / EDITS as f64,
        (lofty_writes + lofty_reads) as f64 / EDITS as f64,
        lofty_writes as f64 / EDITS as f64,
        lofty_reads as f64 / EDITS as f64,
        made.ghl,
        made.lofty,
    );
    println!(
        "  history: {} updates, {} conflicts, {} echoes, {} skips, {} failed, {} reviews; setup {setup:?}, rounds {rounds_took:?}",
        decided("update"),
        decided("conflict"),
        decided("echo"),
        decided("skip"),
        decided("failed"),
        decided("review"),
    );
    assert!(
        wrong.is_empty(),
        "{} people differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    if (ghl_writes, lofty_writes) != (expected.ghl_writes, expected.lofty_writes) {
        for p in &people {
            let h = app.store.history(&p.email, 1000).await.unwrap();
            let wrote = |to: &str| {
                h.iter()
                    .filter(|e| e.decision == "update" && e.target == to)
                    .count() as u64
            };
            let got = (
                wrote(&format!("ghl:contact:{}", p.contact)),
                wrote(&format!("lofty:lead:{}", p.lead)),
            );
            if got != p.writes {
                eprintln!(
                    "{}: the engine wrote (GHL, Lofty) {got:?}, the model {:?}\n  {}\n  history:\n    {}",
                    p.email,
                    p.writes,
                    p.log.join("\n  "),
                    h.iter()
                        .map(|h| format!(
                            "{} {} {} -> {}: {} {}",
                            h.at, h.decision, h.source, h.target, h.reason, h.diffs
                        ))
                        .collect::<Vec<_>>()
                        .join("\n    ")
                );
            }
        }
    }
    assert_eq!(
        (ghl_writes, lofty_writes),
        (expected.ghl_writes, expected.lofty_writes),
        "writes (GHL, Lofty) = real changes; calls by route: {made:?}"
    );
    assert_eq!(ghl_reads, 0, "the engine never reads GHL: {:?}", made.ghl);

    // Nothing more: the clock moved past every retry and poll, no call at all.
    let idle = Calls::now(&app, &location).await;
    for _ in 0..20 {
        app.store.advance_clock(Duration::from_secs(30));
        app.sandbox.lofty().flush_webhooks().await;
        app.drain().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    quiesce(&app, "the idle ten minutes").await;
    let late = Calls::now(&app, &location).await.since(&idle);
    assert_eq!(
        late.total(),
        0,
        "API calls after the queue drained: {late:?}"
    );
    assert_eq!(jobs_left(&app).await, 0);
    let dead = app
        .store
        .scalar_i64("SELECT COUNT(*) FROM jobs WHERE status = 'dead'")
        .await
        .unwrap();
    assert_eq!(dead, 0, "dead jobs");
    assert!(app.store.reviews("").await.unwrap().is_empty(), "reviews");

    // The engine's view is the systems' own: a reconciliation walk over each side
    // finds nothing that changed without the engine seeing it.
    let flow = engine::sync::enabled_flows(&app.store)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.row.id == flow.id)
        .unwrap();
    for side in [domain::sync::Side::Left, domain::sync::Side::Right] {
        let w = engine::sync::reconcile::walk(app.connectors(), &flow, side, 0.05)
            .await
            .unwrap();
        assert_eq!(
            (w.seen, w.changed, w.deleted, w.held),
            (PEOPLE as u64, 0, 0, 0),
            "a walk of the {side:?} side: {w:?}"
        );
    }
    println!("  {backend:?} took {:?}", started.elapsed());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_thousand_random_edits_sync_with_one_write_per_change_and_no_loop() {
    loop_test(Backend::Sqlite, Arrival::GhlFirst).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_thousand_random_edits_sync_with_one_write_per_change_and_no_loop() {
    loop_test(Backend::Postgres, Arrival::GhlFirst).await;
}

/// The same edits with each round's GHL webhooks run after Lofty's batch: the
/// engine then writes GHL from the contact it knew before the round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "known limit: with no GHL read before a write, a GHL edit to the same field whose webhook has not arrived yet is overwritten by the older Lofty value (both sides agree; `newest` is not honoured: 19 of 50 people in this run). Other-field GHL edits (carried by the write's answer) and tags added in GHL (add-tags, never a replaced list) are kept. See docs/SYNC.md"]
async fn sqlite_a_thousand_random_edits_with_ghl_webhooks_late() {
    loop_test(Backend::Sqlite, Arrival::LoftyFirst).await;
}
