//! The first-time race (issue 10): 200 new people arriving on both sides at once,
//! handled by two workers on their own store pools (two processes' worth) on
//! PostgreSQL, with GHL allowing duplicate contacts (so GHL deduplicates nothing on
//! the engine's behalf): exactly 200 GHL contacts, 200 Lofty leads and 200 links.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use testkit::{Backend, Spec};

const PEOPLE: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_people_on_both_sides_at_once_make_two_hundred_pairs() {
    let mut spec = Spec::default().on(Backend::Postgres);
    if !testkit::soak() {
        spec.sandbox.rate.max_per_window = 100_000;
    }
    // No reconciliation walk here: it would also pair the seeded records.
    let Some(app) =
        testkit::spawn_app_configured(spec, |c| c.worker.reconcile_every_secs = Some(0)).await
    else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
        return;
    };
    if !testkit::soak() {
        app.sandbox
            .lofty()
            .set_rate(Duration::from_secs(60), 100_000, 100_000);
    }
    let location = app.location(0).id.clone();
    app.sandbox_control(
        &format!("/_sandbox/locations/{location}/settings"),
        json!({"allowDuplicateContact": true}),
    )
    .await;
    let (ghl, _, flow) = app.enable_contacts_sync().await;
    let lofty = app.lofty_client();
    let g = app
        .connectors()
        .open(&ghl)
        .await
        .unwrap()
        .into_ghl()
        .unwrap();
    let before_contacts = count_contacts(&g, &location).await;
    let before_leads = count_leads(&lofty).await;

    // Two workers, each with its own store pool, running while the people arrive.
    let second = app.second_instance().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = [app.worker.clone(), second.worker.clone()].map(|w| {
        let stopped = stopped.clone();
        tokio::spawn(async move { w.run(stopped).await })
    });
    let started = Instant::now();
    futures_util::stream::iter(0..PEOPLE)
        .map(|i| {
            let (g, lofty, location) = (&g, &lofty, &location);
            async move {
                let email = format!("race{i}@example.com");
                let contact = ghl::models::CreateContact {
                    location_id: location.clone(),
                    first_name: Some(format!("Race{i}")),
                    email: Some(email.clone()),
                    ..Default::default()
                };
                let lead = lofty::models::CreateLead {
                    first_name: format!("Race{i}"),
                    emails: Some(vec![email]),
                    ..Default::default()
                };
                let (c, l) = tokio::join!(
                    g.client().create_contact(&contact),
                    lofty.create_lead(&lead)
                );
                c.unwrap();
                l.unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let deadline = Instant::now() + Duration::from_secs(120) * testkit::soak_factor();
    loop {
        let pairs = app.store.count_pairs(&flow.id).await.unwrap();
        let busy = app
            .store
            .scalar_i64("SELECT COUNT(*) FROM jobs WHERE kind IN ('flow.run', 'ghl.event', 'lofty.delivery', 'lofty.change') AND status IN ('queued', 'running')")
            .await
            .unwrap();
        if pairs >= PEOPLE as i64 && busy == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pairs} pairs, {busy} jobs still busy"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let took = started.elapsed();
    let _ = stop.send(true);
    for w in workers {
        w.await.unwrap();
    }
    let contacts = count_contacts(&g, &location).await - before_contacts;
    let leads = count_leads(&lofty).await - before_leads;
    let pairs = app.store.count_pairs(&flow.id).await.unwrap();
    let reviews = app.store.reviews("").await.unwrap().len();
    eprintln!(
        "first-time race: {PEOPLE} people on both sides at once, 2 workers: {contacts} new contacts, {leads} new leads, {pairs} links, {reviews} reviews in {took:?}"
    );
    assert_eq!(
        (contacts, leads, pairs),
        (PEOPLE as u64, PEOPLE as u64, PEOPLE as i64)
    );
    assert_eq!(reviews, 0);
    second.shutdown().await;
    app.shutdown().await;
}

async fn count_contacts(g: &engine::connectors::GhlConnector, location: &str) -> u64 {
    let r = g
        .client()
        .search_contacts(&ghl::models::SearchRequest::new(location, 1))
        .await
        .unwrap();
    r.total.unwrap_or(0)
}

async fn count_leads(lofty: &lofty::LoftyClient) -> u64 {
    let p = lofty
        .list_leads(&lofty::models::LeadQuery {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    u64::try_from(p.meta.total.unwrap_or(0)).unwrap()
}
