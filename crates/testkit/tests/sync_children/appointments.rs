//! Appointments (`ghl-lofty-appointments`, `lofty-ghl-appointments`), both on at
//! once: each appointment flows from where it was made and neither recipe copies
//! the other's back; a past GHL appointment is skipped with Lofty's reason and not
//! retried; enabling the Lofty-to-GHL direction needs a calendar and lists the
//! location's when the config names none.

use serde_json::json;
use testkit::{Backend, Calls};

use crate::setup::{Setup, setup_with};

const SCOPES: &str = "contacts.readonly contacts.write locations/customFields.readonly \
                      calendars.readonly calendars/events.readonly calendars/events.write";
const RECIPES: &[&str] = &[
    "lofty-ghl-contacts",
    "ghl-lofty-appointments",
    "lofty-ghl-appointments",
];

async fn with_appointments(backend: Backend) -> Option<Setup> {
    setup_with(backend, RECIPES, SCOPES, &[("*", "Calendar 2")]).await
}

/// `days` from now at a whole minute (Lofty keeps whole seconds).
pub(crate) fn at(days: i64, minutes: i64) -> jiff::Timestamp {
    let t = jiff::Timestamp::now()
        + jiff::SignedDuration::from_hours(24 * days)
        + jiff::SignedDuration::from_mins(minutes);
    jiff::Timestamp::from_second(t.as_second() / 60 * 60).unwrap()
}

/// `t` as GHL is sent it here: with an offset other than UTC (+05:00).
fn with_offset(t: jiff::Timestamp) -> String {
    let zone = jiff::tz::TimeZone::fixed(jiff::tz::offset(5));
    t.to_zoned(zone)
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

impl Setup {
    fn ghl_appointment(&self, id: &str) -> Option<sandbox::ghl::state::Appointment> {
        self.app.sandbox.ghl().with_world(|w| {
            w.locations
                .get(&self.location)
                .and_then(|l| l.appointments.get(id).cloned())
        })
    }

    fn ghl_appointments_of(&self, contact: &str) -> usize {
        self.app.sandbox.ghl().with_world(|w| {
            w.locations.get(&self.location).map_or(0, |l| {
                l.appointments
                    .values()
                    .filter(|a| a.contact_id == contact)
                    .count()
            })
        })
    }

    fn lofty_appointments_of(&self, lead: i64) -> usize {
        self.app.sandbox.lofty().with_world(|w| {
            w.entries
                .values()
                .filter(|e| {
                    e.lead_id == lead && e.kind == sandbox::lofty::state::EntryKind::Appointment
                })
                .count()
        })
    }

    fn calendar(&self, name: &str) -> String {
        self.app.sandbox.ghl().with_world(|w| {
            w.locations[&self.location]
                .calendars
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .id
                .clone()
        })
    }

    pub(crate) async fn book_in_ghl(
        &self,
        contact: &str,
        start: jiff::Timestamp,
        title: &str,
    ) -> String {
        let calendar = self.calendar("Calendar 1");
        let made = self
            .ghl
            .create_appointment(&ghl::models::CreateAppointment {
                calendar_id: calendar,
                location_id: self.location.clone(),
                contact_id: contact.to_owned(),
                start_time: with_offset(start),
                end_time: Some(with_offset(start + jiff::SignedDuration::from_mins(45))),
                title: Some(title.to_owned()),
                appointment_status: Some("confirmed".to_owned()),
                address: Some("12 Elm St".to_owned()),
                description: Some("Bring the keys".to_owned()),
                ..Default::default()
            })
            .await
            .unwrap();
        made.id
    }
}

async fn ghl_appointments_reach_lofty(backend: Backend) {
    let Some(s) = with_appointments(backend).await else {
        return;
    };
    let (lead, contact) = s.linked_lead("appt.kid@example.com").await;

    // Booked in GHL: one Lofty calendar create under the linked lead, no GHL read.
    let start = at(3, 0);
    let before = s.calls().await;
    let appt = s.book_in_ghl(&contact, start, "Showing").await;
    let twin = s.lofty_twin("ghl-lofty-appointments", &appt).await;
    let made = s.calls().await.since(&before);
    let (ghl_reads, ghl_writes, _, lofty_writes) = made.split();
    assert_eq!(
        (ghl_reads, ghl_writes, lofty_writes),
        (0, 1, 1),
        "the test's own GHL booking, 1 Lofty write, no GHL read: {made:?}"
    );
    assert_eq!(made.lofty.get("POST /v2.0/calendar"), Some(&1), "{made:?}");
    let entry = s.lofty_task(twin).expect("the Lofty appointment");
    assert_eq!(entry.kind, sandbox::lofty::state::EntryKind::Appointment);
    assert_eq!(entry.lead_id, lead);
    assert_eq!(
        entry.content, "Showing",
        "the title (the appointment has no notes)"
    );
    assert_eq!(entry.address.as_deref(), Some("12 Elm St"));
    assert_eq!(
        entry.start.map(|t| t.timestamp_millis()),
        Some(start.as_millisecond()),
        "the same instant, whatever the offset"
    );
    assert_eq!(
        entry.end.timestamp_millis(),
        start.as_millisecond() + 45 * 60_000
    );
    let zone = s.lofty.me().await.unwrap().time_zone_id;
    assert_eq!(
        Some(entry.time_zone_code.clone()),
        zone,
        "the Lofty user's zone"
    );
    assert!(!entry.finished);
    // Lofty's webhook of our create does not come back as a GHL booking.
    assert_eq!(s.ghl_appointments_of(&contact), 1, "no copy back into GHL");
    let back = s.history_decisions("lofty-ghl-appointments").await;
    assert!(
        back.iter()
            .any(|(d, src)| d == "skip" && src == &format!("lofty:appointment:{twin}")),
        "the other direction skipped our Lofty appointment: {back:?}"
    );

    // The contact showed up: Lofty's appointment finished (its own call).
    let before = s.calls().await;
    s.ghl
        .edit_appointment(
            &appt,
            &ghl::models::EditAppointment {
                appointment_status: Some("showed".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.until("the Lofty appointment finished", async || {
        s.lofty_task(twin).is_some_and(|e| e.finished)
    })
    .await;
    s.settle().await;
    let made = s.calls().await.since(&before);
    assert_eq!(
        made.lofty.get("POST /v2.0/calendar/{calendarId}/finish"),
        Some(&1),
        "{made:?}"
    );
    assert_eq!(made.split().3, 1, "one Lofty write: {made:?}");

    // A past appointment: skipped with Lofty's reason, no call, no retry.
    let before = s.calls().await;
    let past = s
        .book_in_ghl(&contact, at(-2, 0), "Last week's visit")
        .await;
    s.settle().await;
    s.app
        .store
        .advance_clock(std::time::Duration::from_secs(3600));
    s.settle().await;
    let made = s.calls().await.since(&before);
    assert_eq!(made.split().3, 0, "nothing sent to Lofty: {made:?}");
    assert!(
        s.pair("ghl-lofty-appointments", "left", &past)
            .await
            .is_none()
    );
    let runs = s
        .app
        .store
        .runs("ghl-lofty-appointments", 100)
        .await
        .unwrap();
    let skips: Vec<_> = runs
        .iter()
        .filter(|h| h.source == format!("ghl:appointment:{past}") && h.decision == "skip")
        .collect();
    assert_eq!(skips.len(), 1, "recorded once, not retried: {runs:#?}");
    assert!(
        skips[0].reason.contains("in the past"),
        "{}",
        skips[0].reason
    );
    assert_eq!(s.app.store.dead_letters(10).await.unwrap().len(), 0);
    assert_eq!(s.lofty_appointments_of(lead), 1);
}
on_both_backends!(ghl_appointments_reach_lofty);

async fn lofty_appointments_reach_ghl(backend: Backend) {
    let Some(s) = with_appointments(backend).await else {
        return;
    };
    let (lead, contact) = s.linked_lead("appt.lofty@example.com").await;
    let zone = s.lofty.me().await.unwrap().time_zone_id.unwrap_or_default();

    // Booked in Lofty: one GHL booking on the configured calendar, 0 GHL reads.
    let start = at(5, 30);
    let before = s.calls().await;
    let made = s
        .lofty
        .call(
            "lofty-create-calendar-event",
            json!({"body": {
                "type": "APPOINTMENT", "content": "Open house", "leadId": lead,
                "startAt": start.to_string(),
                "endAt": (start + jiff::SignedDuration::from_hours(1)).to_string(),
                "timeZoneCode": zone, "address": "3 Oak Ave",
            }}),
        )
        .await
        .unwrap();
    let composite = made["data"]["id"].as_str().unwrap().to_owned();
    let id = composite.trim_end_matches("-appointment").to_owned();
    s.until("the GHL booking", async || {
        s.pair("lofty-ghl-appointments", "right", &id)
            .await
            .is_some()
    })
    .await;
    s.settle().await;
    let made = s.calls().await.since(&before);
    let (ghl_reads, ghl_writes, lofty_reads, lofty_writes) = made.split();
    assert_eq!(
        (ghl_reads, ghl_writes, lofty_writes - 1),
        (0, 1, 0),
        "the test's Lofty create, 1 GHL write, no GHL read: {made:?}"
    );
    assert!(lofty_reads >= 1, "a Lofty change is read once: {made:?}");
    let ghl_id = s
        .pair("lofty-ghl-appointments", "right", &id)
        .await
        .unwrap()
        .left_id;
    let got = s.ghl_appointment(&ghl_id).expect("the GHL appointment");
    assert_eq!(got.contact_id, contact);
    assert_eq!(
        got.calendar_id,
        s.calendar("Calendar 2"),
        "the configured calendar"
    );
    assert_eq!(got.title, "Open house");
    assert_eq!(got.address.as_deref(), Some("3 Oak Ave"));
    assert_eq!(got.appointment_status, "confirmed");
    assert_eq!(got.start.timestamp_millis(), start.as_millisecond());
    assert_eq!(
        got.end.timestamp_millis(),
        start.as_millisecond() + 3_600_000
    );
    // GHL's AppointmentCreate of our booking is not mirrored back into Lofty.
    assert_eq!(s.lofty_appointments_of(lead), 1, "no copy back into Lofty");

    // Finished in Lofty: the contact showed.
    let before = s.calls().await;
    s.lofty
        .set_calendar_event_finished(
            &lofty::models::CalendarId::appointment(id.parse().unwrap()),
            true,
        )
        .await
        .unwrap();
    s.until("the GHL appointment showed", async || {
        s.ghl_appointment(&ghl_id)
            .is_some_and(|a| a.appointment_status == "showed")
    })
    .await;
    s.settle().await;
    let made = s.calls().await.since(&before);
    assert_eq!(Calls::count(&made.ghl, true), 1, "one GHL write: {made:?}");
    assert_eq!(made.split().0, 0, "no GHL read: {made:?}");
    assert_eq!(s.ghl_appointments_of(&contact), 1);
}
on_both_backends!(lofty_appointments_reach_ghl);

/// Enabling Lofty-to-GHL appointments: a connection without `calendars.readonly`
/// is refused naming it; with no calendar in the config, or one the location does
/// not have, the error lists the location's calendars.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabling_needs_a_calendar_of_the_location() {
    let Some(s) = setup_with(Backend::Sqlite, &["lofty-ghl-contacts"], SCOPES, &[]).await else {
        return;
    };
    let flows = s.app.store.flows().await.unwrap();
    let contacts = flows.iter().find(|f| f.id == "lofty-ghl-contacts").unwrap();
    let (ghl, lofty) = (&contacts.left_connection, &contacts.right_connection);
    let enable = async |calendars: &[(&str, &str)]| {
        let connectors = s.app.connectors().clone().with_ghl_calendars(
            calendars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        engine::sync::enable_recipe(&connectors, "lofty-ghl-appointments", ghl, lofty)
            .await
            .map_err(|e| e.to_string())
    };
    let (one, two) = (s.calendar("Calendar 1"), s.calendar("Calendar 2"));
    let err = enable(&[]).await.unwrap_err();
    assert!(
        err.contains("[ghl.calendars]")
            && err.contains(&s.location)
            && err.contains(&format!("{one} (Calendar 1)"))
            && err.contains(&format!("{two} (Calendar 2)")),
        "{err}"
    );
    let err = enable(&[(s.location.as_str(), "Nope")]).await.unwrap_err();
    assert!(err.contains("`Nope`") && err.contains(&one), "{err}");
    // By id for this location: the id is kept in the stored file.
    let row = enable(&[(s.location.as_str(), two.as_str()), ("*", "Nope")])
        .await
        .unwrap();
    assert!(
        row.file.contains(&format!("\"calendarId\" = \"{two}\"")),
        "{}",
        row.file
    );
    let spec = engine::sync::build(&row).unwrap();
    assert_eq!(
        spec.create_values(domain::sync::Side::Left)
            .get("calendarId"),
        Some(&two)
    );

    // Without calendars.readonly: refused, naming the scope.
    let narrow = s
        .app
        .connect_ghl_pit(
            1,
            "contacts.readonly contacts.write calendars/events.readonly calendars/events.write",
        )
        .await;
    let err =
        engine::sync::enable_recipe(s.app.connectors(), "lofty-ghl-appointments", &narrow, lofty)
            .await
            .unwrap_err()
            .to_string();
    assert!(err.contains("calendars.readonly"), "{err}");
}
