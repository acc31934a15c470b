//! The contacts operations through their typed methods: every write is read back.

use std::collections::BTreeSet;

use ghl::RetryClass;
use ghl::models::{
    BulkBusinessRequest, BulkTagAction, BulkTagsRequest, BusinessContactsQuery, CreateContact,
    ListContactsQuery, SearchFilter, SearchRequest, UpdateContact, UpsertContact,
};

use crate::helpers::{assert_api_error, new_contact, spawn, unique_email};

fn set<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> BTreeSet<String> {
    items.into_iter().map(Into::into).collect()
}

/// create-contact, get-contact, update-contact, get-duplicate-contact, delete-contact.
#[tokio::test]
async fn create_get_update_duplicate_delete() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let email = unique_email("ann");
    let created = c
        .create_contact(&CreateContact {
            location_id: ctx.a.id.clone(),
            first_name: Some("Ann".to_owned()),
            last_name: Some("Lee".to_owned()),
            email: Some(email.clone()),
            phone: Some("+15125550101".to_owned()),
            company_name: Some("Lee Co".to_owned()),
            tags: Some(vec!["buyer".to_owned()]),
            source: Some("integration test".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.id.len(), 20, "{created:?}");
    assert_eq!(created.location_id.as_deref(), Some(ctx.a.id.as_str()));
    assert_eq!(created.tags, ["buyer"]);

    let got = c.get_contact(&created.id).await.unwrap();
    assert_eq!(got.id, created.id);
    assert_eq!(got.first_name.as_deref(), Some("Ann"));
    assert_eq!(got.last_name.as_deref(), Some("Lee"));
    assert_eq!(got.email.as_deref(), Some(email.as_str()));
    assert_eq!(got.phone.as_deref(), Some("+15125550101"));
    assert_eq!(got.company_name.as_deref(), Some("Lee Co"));
    assert_eq!(got.source.as_deref(), Some("integration test"));
    assert!(got.date_added.is_some() && got.date_updated.is_some());

    let updated = c
        .update_contact(
            &created.id,
            &UpdateContact {
                first_name: Some("Anna".to_owned()),
                city: Some("Austin".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.first_name.as_deref(), Some("Anna"));
    let got = c.get_contact(&created.id).await.unwrap();
    assert_eq!(got.first_name.as_deref(), Some("Anna"));
    assert_eq!(got.city.as_deref(), Some("Austin"));
    assert_eq!(got.name.as_deref(), Some("Anna Lee"));
    assert_eq!(got.email.as_deref(), Some(email.as_str()), "untouched");

    // Duplicate search by email, by number, and no match.
    let dup = c
        .get_duplicate_contact(&ctx.a.id, Some(&email), None)
        .await
        .unwrap();
    assert_eq!(dup.map(|d| d.id), Some(created.id.clone()));
    let dup = c
        .get_duplicate_contact(&ctx.a.id, None, Some("+15125550101"))
        .await
        .unwrap();
    assert_eq!(dup.map(|d| d.id), Some(created.id.clone()));
    let none = c
        .get_duplicate_contact(&ctx.a.id, Some("nobody@nowhere.example.com"), None)
        .await
        .unwrap();
    assert!(none.is_none());

    let deleted = c.delete_contact(&created.id).await.unwrap();
    assert!(deleted.is_success());
    let err = c.get_contact(&created.id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_api_error(&err, 404, RetryClass::GiveUp, "not found");
    let dup = c
        .get_duplicate_contact(&ctx.a.id, Some(&email), None)
        .await
        .unwrap();
    assert!(dup.is_none(), "deleted contacts are not duplicates");
    ctx.shutdown().await;
}

/// upsert-contact: new:true, then new:false on the same email (same id, fields merged).
#[tokio::test]
async fn upsert_creates_then_updates() {
    let ctx = spawn().await;
    let email = unique_email("upsert");
    let first = ctx
        .client
        .upsert_contact(&UpsertContact::from(CreateContact {
            location_id: ctx.a.id.clone(),
            first_name: Some("Uma".to_owned()),
            email: Some(email.clone()),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(first.new);
    assert!(first.trace_id.is_some());
    let second = ctx
        .client
        .upsert_contact(&UpsertContact::from(CreateContact {
            location_id: ctx.a.id.clone(),
            email: Some(email.clone()),
            city: Some("Dallas".to_owned()),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(!second.new);
    assert_eq!(second.contact.id, first.contact.id);
    let got = ctx.client.get_contact(&first.contact.id).await.unwrap();
    assert_eq!(got.city.as_deref(), Some("Dallas"));
    assert_eq!(got.first_name.as_deref(), Some("Uma"), "kept");
    let dup = ctx
        .client
        .get_duplicate_contact(&ctx.a.id, Some(&email), None)
        .await
        .unwrap();
    assert_eq!(dup.map(|d| d.id), Some(first.contact.id));
    ctx.shutdown().await;
}

/// add-tags, remove-tags, followers, campaigns (add, remove, removeAll), workflows.
#[tokio::test]
async fn tags_followers_campaigns_workflows() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let contact = ctx.new_contact("Tia").await;
    let id = contact.id.as_str();

    let tags = c
        .add_tags(id, &["alpha".to_owned(), "beta".to_owned()])
        .await
        .unwrap();
    assert_eq!(set(tags), set(["alpha", "beta"]));
    assert_eq!(
        set(c.get_contact(id).await.unwrap().tags),
        set(["alpha", "beta"])
    );
    let tags = c.remove_tags(id, &["alpha".to_owned()]).await.unwrap();
    assert_eq!(tags, ["beta"]);
    assert_eq!(c.get_contact(id).await.unwrap().tags, ["beta"]);

    let (u0, u1) = (ctx.a.user_ids[0].clone(), ctx.a.user_ids[1].clone());
    let added = c
        .add_followers(id, &[u0.clone(), u1.clone()])
        .await
        .unwrap();
    assert_eq!(added.followers, [u0.clone(), u1.clone()]);
    assert_eq!(added.followers_added, [u0.clone(), u1.clone()]);
    assert_eq!(
        c.get_contact(id).await.unwrap().followers,
        [u0.clone(), u1.clone()]
    );
    let removed = c
        .remove_followers(id, std::slice::from_ref(&u0))
        .await
        .unwrap();
    assert_eq!(removed.followers, std::slice::from_ref(&u1));
    assert_eq!(removed.followers_removed, [u0]);
    assert_eq!(c.get_contact(id).await.unwrap().followers, [u1]);

    // Campaign and workflow membership is not part of the contact JSON: read the world.
    let campaigns = |ctx: &crate::helpers::Ctx| {
        ctx.world(|w| w.locations[&ctx.a.id].contacts[id].campaigns.clone())
    };
    let workflows = |ctx: &crate::helpers::Ctx| {
        ctx.world(|w| w.locations[&ctx.a.id].contacts[id].workflows.clone())
    };
    let (k0, k1) = (&ctx.a.campaign_ids[0], &ctx.a.campaign_ids[1]);
    assert!(c.add_to_campaign(id, k0).await.unwrap().is_success());
    assert!(c.add_to_campaign(id, k1).await.unwrap().is_success());
    assert_eq!(campaigns(&ctx), set([k0.as_str(), k1.as_str()]));
    assert!(c.remove_from_campaign(id, k0).await.unwrap().is_success());
    assert_eq!(campaigns(&ctx), set([k1.as_str()]));
    assert!(c.remove_from_all_campaigns(id).await.unwrap().is_success());
    assert!(campaigns(&ctx).is_empty());

    let w0 = &ctx.a.workflow_ids[0];
    let ok = c
        .add_to_workflow(id, w0, Some("2030-01-01T10:00:00Z"))
        .await
        .unwrap();
    assert!(ok.is_success());
    assert_eq!(workflows(&ctx), set([w0.as_str()]));
    let ok = c.remove_from_workflow(id, w0, None).await.unwrap();
    assert!(ok.is_success());
    assert!(workflows(&ctx).is_empty());
    ctx.shutdown().await;
}

/// create-association (bulk tags add/remove, per-contact errors) and
/// add-remove-contact-from-business (set/clear), read back with get-contacts-by-businessId.
#[tokio::test]
async fn bulk_tags_and_business() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let c1 = ctx.new_contact("Bo").await.id;
    let c2 = ctx.new_contact("Cy").await.id;
    let gone = ctx.new_contact("Di").await.id;
    c.delete_contact(&gone).await.unwrap();
    let other = new_contact(&ctx.client_b, &ctx.b.id, "Ed").await.id;

    let resp = c
        .bulk_update_tags(
            BulkTagAction::Add,
            &BulkTagsRequest {
                contacts: vec![
                    c1.clone(),
                    c2.clone(),
                    "not a firebase id".to_owned(),
                    gone.clone(),
                    other.clone(),
                ],
                tags: vec!["bulk-a".to_owned(), "bulk-b".to_owned()],
                location_id: ctx.a.id.clone(),
                remove_all_tags: None,
            },
        )
        .await
        .unwrap();
    assert!(!resp.succeded);
    assert_eq!(resp.error_count, 3);
    assert_eq!(resp.responses.len(), 5);
    let entry = |id: &str| {
        resp.responses
            .iter()
            .find(|r| r.contact_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no entry for {id}: {resp:?}"))
    };
    for id in [&c1, &c2] {
        let e = entry(id);
        assert_eq!(e.result_type.as_deref(), Some("success"));
        assert_eq!(e.message.as_deref(), Some("Tags updated"));
        assert_eq!(e.tags_added, ["bulk-a", "bulk-b"]);
    }
    let errors = [
        ("not a firebase id", "contact id is not a valid firebase id"),
        (gone.as_str(), "contact is deleted"),
        (other.as_str(), "contact does not belong to location"),
    ];
    for (id, message) in errors {
        let e = entry(id);
        assert_eq!(e.result_type.as_deref(), Some("error"), "{e:?}");
        assert_eq!(e.message.as_deref(), Some(message), "{e:?}");
    }
    for id in [&c1, &c2] {
        let tags = c.get_contact(id).await.unwrap().tags;
        assert_eq!(set(tags), set(["bulk-a", "bulk-b"]));
    }
    assert!(
        ctx.client_b
            .get_contact(&other)
            .await
            .unwrap()
            .tags
            .is_empty()
    );

    let resp = c
        .bulk_update_tags(
            BulkTagAction::Remove,
            &BulkTagsRequest {
                contacts: vec![c1.clone(), c2.clone()],
                tags: vec!["bulk-a".to_owned()],
                location_id: ctx.a.id.clone(),
                remove_all_tags: None,
            },
        )
        .await
        .unwrap();
    assert!(resp.succeded);
    assert_eq!(resp.error_count, 0);
    assert_eq!(resp.responses[0].tags_removed, ["bulk-a"]);
    assert_eq!(c.get_contact(&c1).await.unwrap().tags, ["bulk-b"]);
    let resp = c
        .bulk_update_tags(
            BulkTagAction::Remove,
            &BulkTagsRequest {
                contacts: vec![c1.clone()],
                tags: Vec::new(),
                location_id: ctx.a.id.clone(),
                remove_all_tags: Some(true),
            },
        )
        .await
        .unwrap();
    assert!(resp.succeded);
    assert!(c.get_contact(&c1).await.unwrap().tags.is_empty());
    assert_eq!(c.get_contact(&c2).await.unwrap().tags, ["bulk-b"]);

    // Business: set on two contacts, list them, clear one.
    let biz = ctx.a.business_ids[0].clone();
    let resp = c
        .bulk_update_business(&BulkBusinessRequest {
            location_id: ctx.a.id.clone(),
            ids: vec![c1.clone(), c2.clone()],
            business_id: Some(biz.clone()),
        })
        .await
        .unwrap();
    assert!(resp.success);
    assert_eq!(resp.ids, [c1.clone(), c2.clone()]);
    assert_eq!(
        c.get_contact(&c1).await.unwrap().business_id.as_deref(),
        Some(biz.as_str())
    );
    let query = BusinessContactsQuery {
        location_id: ctx.a.id.clone(),
        ..Default::default()
    };
    let list = c.contacts_by_business(&biz, &query).await.unwrap();
    assert_eq!(list.count, Some(2));
    assert_eq!(
        set(list.contacts.into_iter().map(|x| x.id)),
        set([c1.clone(), c2.clone()])
    );
    let resp = c
        .bulk_update_business(&BulkBusinessRequest {
            location_id: ctx.a.id.clone(),
            ids: vec![c1.clone()],
            business_id: None,
        })
        .await
        .unwrap();
    assert!(resp.success);
    assert_eq!(c.get_contact(&c1).await.unwrap().business_id, None);
    let list = c.contacts_by_business(&biz, &query).await.unwrap();
    assert_eq!(list.count, Some(1));
    assert_eq!(list.contacts[0].id, c2);
    ctx.shutdown().await;
}

/// search-contacts-advanced with a filter and a full-text query; get-contacts (deprecated).
#[tokio::test]
async fn search_and_deprecated_list() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let target = ctx.new_contact("Zelda").await;
    let email = target.email.clone().unwrap();

    let found = c
        .search_contacts(
            &SearchRequest::new(&ctx.a.id, 10).filter(SearchFilter::eq("email", email.as_str())),
        )
        .await
        .unwrap();
    assert_eq!(found.total, Some(1));
    assert_eq!(found.contacts.len(), 1);
    assert_eq!(found.contacts[0].id, target.id);
    assert!(found.contacts[0].search_after.is_some());
    assert!(found.trace_id.is_some());

    let by_text = c
        .search_contacts(&SearchRequest {
            query: Some("zelda".to_owned()),
            ..SearchRequest::new(&ctx.a.id, 10)
        })
        .await
        .unwrap();
    assert_eq!(
        by_text.contacts.iter().map(|x| &x.id).collect::<Vec<_>>(),
        [&target.id]
    );

    let all = ctx.contact_ids(&ctx.a.id);
    assert_eq!(all.len(), 6, "5 seeded + 1 created");
    let page = c
        .list_contacts(&ListContactsQuery {
            location_id: ctx.a.id.clone(),
            limit: Some(4),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.contacts.len(), 4);
    assert_eq!(page.count, Some(6));
    let meta = page.meta.expect("meta");
    assert_eq!(meta.total, Some(6));
    assert_eq!(
        meta.start_after_id.as_deref(),
        Some(page.contacts[3].id.as_str())
    );
    let rest = c
        .list_contacts(&ListContactsQuery {
            location_id: ctx.a.id.clone(),
            limit: Some(4),
            start_after: meta.start_after,
            start_after_id: meta.start_after_id,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.contacts.len(), 2);
    let listed: BTreeSet<String> = page
        .contacts
        .into_iter()
        .chain(rest.contacts)
        .map(|x| x.id)
        .collect();
    assert_eq!(listed, set(all));
    ctx.shutdown().await;
}
