//! The marketplace OAuth flow against the sandbox's OAuth server.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use ghl::RetryClass;
use ghl::models::{InstalledLocationsQuery, UserType};
use ghl::pagination::installed_locations_stream;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

use crate::helpers::{REDIRECT_URI, assert_api_error, config, poll, spawn, spawn_with};

const LOCATION_SCOPES: &str = "contacts.readonly contacts.write";

/// Code exchange gives working tokens; refresh gives a new pair; refresh tokens are
/// single use.
#[tokio::test]
async fn code_exchange_and_single_use_refresh() {
    let ctx = spawn().await;
    let app = ctx.oauth_app();
    let code = ctx.code(&ctx.a.id, LOCATION_SCOPES).await;
    let tokens = app
        .exchange_code(&code, Some(UserType::Location))
        .await
        .unwrap();
    assert_eq!(tokens.user_type.as_deref(), Some("Location"));
    assert_eq!(tokens.location_id.as_deref(), Some(ctx.a.id.as_str()));
    assert_eq!(
        tokens.company_id.as_deref(),
        Some(ctx.info.company_id.as_str())
    );
    assert_eq!(
        tokens.scopes().into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from(["contacts.readonly", "contacts.write"])
    );
    assert_eq!(tokens.token_type.as_deref(), Some("Bearer"));
    assert!(tokens.expires_in.is_some_and(|s| s > 0));
    let rt1 = tokens.refresh_token.clone().expect("refresh token");

    // The access token works for an API call (read and write).
    let client = ctx.client_with(tokens.access_token.expose_secret(), &ctx.a.id);
    let id = ctx.contact_ids(&ctx.a.id)[0].clone();
    assert_eq!(client.get_contact(&id).await.unwrap().id, id);
    crate::helpers::new_contact(&client, &ctx.a.id, "OAuth").await;

    // A code works once.
    let err = app.exchange_code(&code, None).await.unwrap_err();
    assert_api_error(&err, 400, RetryClass::GiveUp, "Invalid grant");

    // Refresh: a new pair that works.
    let t2 = app.refresh(&rt1, Some(UserType::Location)).await.unwrap();
    let rt2 = t2.refresh_token.clone().expect("new refresh token");
    assert_ne!(rt2.expose_secret(), rt1.expose_secret());
    assert_ne!(
        t2.access_token.expose_secret(),
        tokens.access_token.expose_secret()
    );
    let client2 = client.with_token(t2.access_token.clone());
    assert_eq!(client2.get_contact(&id).await.unwrap().id, id);

    // The old refresh token is spent; the new one works exactly once.
    let err = app.refresh(&rt1, None).await.unwrap_err();
    assert_api_error(&err, 400, RetryClass::GiveUp, "already been used");
    let t3 = app.refresh(&rt2, None).await.unwrap();
    let client3 = client.with_token(t3.access_token.clone());
    assert_eq!(client3.get_contact(&id).await.unwrap().id, id);
    let err = app.refresh(&rt2, None).await.unwrap_err();
    assert_api_error(&err, 400, RetryClass::GiveUp, "already been used");

    // Wrong client secret.
    let mut wrong = app.clone();
    wrong.client_secret = SecretString::from("not-the-secret".to_owned());
    let rt3 = t3.refresh_token.clone().unwrap();
    let err = wrong.refresh(&rt3, None).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    // ... which did not spend the refresh token.
    app.refresh(&rt3, None).await.unwrap();
    ctx.shutdown().await;
}

/// An expired access token is 401 "Invalid JWT" (Reauth); a refresh fixes it.
#[tokio::test]
async fn expired_access_token_is_reauth_and_refresh_fixes_it() {
    let ctx = spawn().await;
    let app = ctx.oauth_app();
    let code = ctx.code(&ctx.a.id, LOCATION_SCOPES).await;
    let tokens = app.exchange_code(&code, None).await.unwrap();
    let client = ctx.client_with(tokens.access_token.expose_secret(), &ctx.a.id);
    let id = ctx.contact_ids(&ctx.a.id)[0].clone();
    client.get_contact(&id).await.unwrap();

    let expired = ctx.post("/_sandbox/tokens/expire-all", json!({})).await;
    assert!(expired["expired"].as_u64().unwrap() >= 1);
    let err = client.get_contact(&id).await.unwrap_err();
    assert_api_error(&err, 401, RetryClass::Reauth, "Invalid JWT");
    // PITs do not expire.
    ctx.client.get_contact(&id).await.unwrap();

    let fresh = app
        .refresh(tokens.refresh_token.as_ref().unwrap(), None)
        .await
        .unwrap();
    let client = client.with_token(fresh.access_token.clone());
    assert_eq!(client.get_contact(&id).await.unwrap().id, id);
    ctx.shutdown().await;
}

/// With a 1 s access-token lifetime the token stops working by itself (401, Reauth)
/// and a refresh brings a working one.
#[tokio::test]
async fn access_token_expires_after_its_ttl() {
    let mut cfg = config();
    cfg.access_token_ttl = Duration::from_secs(1);
    let ctx = spawn_with(cfg).await;
    let app = ctx.oauth_app();
    let code = ctx.code(&ctx.a.id, LOCATION_SCOPES).await;
    let tokens = app.exchange_code(&code, None).await.unwrap();
    assert_eq!(tokens.expires_in, Some(1));
    let client = ctx.client_with(tokens.access_token.expose_secret(), &ctx.a.id);
    let id = ctx.contact_ids(&ctx.a.id)[0].clone();
    client.get_contact(&id).await.unwrap();

    let (c, contact) = (&client, id.as_str());
    let err = poll(
        "the access token to expire",
        Duration::from_secs(5),
        move || async move { c.get_contact(contact).await.err() },
    )
    .await;
    assert_api_error(&err, 401, RetryClass::Reauth, "Invalid JWT");
    let fresh = app
        .refresh(tokens.refresh_token.as_ref().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(fresh.expires_in, Some(1));
    let client = client.with_token(fresh.access_token.clone());
    assert_eq!(client.get_contact(&id).await.unwrap().id, id);
    ctx.shutdown().await;
}

/// Uninstalling the app revokes its tokens there: the access token is 401 (Reauth) and
/// the refresh token is refused (400, GiveUp); PITs are unaffected.
#[tokio::test]
async fn uninstall_revokes_oauth_tokens() {
    let ctx = spawn().await;
    let app = ctx.oauth_app();
    let code = ctx.code(&ctx.a.id, LOCATION_SCOPES).await;
    let tokens = app.exchange_code(&code, None).await.unwrap();
    let client = ctx.client_with(tokens.access_token.expose_secret(), &ctx.a.id);
    let id = ctx.contact_ids(&ctx.a.id)[0].clone();
    client.get_contact(&id).await.unwrap();

    ctx.post("/_sandbox/uninstall", json!({"location_id": ctx.a.id}))
        .await;
    let err = client.get_contact(&id).await.unwrap_err();
    assert_api_error(&err, 401, RetryClass::Reauth, "Invalid JWT");
    let err = app
        .refresh(tokens.refresh_token.as_ref().unwrap(), None)
        .await
        .unwrap_err();
    assert_api_error(&err, 400, RetryClass::GiveUp, "revoked");
    assert_eq!(ctx.client.get_contact(&id).await.unwrap().id, id);
    ctx.shutdown().await;
}

/// Agency install: a Company token lists the installed locations and mints working
/// location tokens.
#[tokio::test]
async fn agency_token_lists_locations_and_mints_location_tokens() {
    let ctx = spawn().await;
    let app = ctx.oauth_app();
    let company = ctx.info.company_id.clone();
    let code = ctx
        .code(
            &company,
            "oauth.readonly oauth.write contacts.readonly contacts.write",
        )
        .await;
    let agency = app
        .exchange_code(&code, Some(UserType::Company))
        .await
        .unwrap();
    assert_eq!(agency.user_type.as_deref(), Some("Company"));
    assert_eq!(agency.company_id.as_deref(), Some(company.as_str()));
    assert_eq!(agency.location_id, None);
    let all: BTreeSet<String> = ctx.info.locations.iter().map(|l| l.id.clone()).collect();
    assert_eq!(
        agency
            .approved_locations
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        all
    );
    let agency_token = agency.access_token.clone();

    let installed = app
        .installed_locations(
            &agency_token,
            &company,
            app.app_id(),
            None,
            None,
            Some(true),
        )
        .await
        .unwrap();
    assert_eq!(installed.count, Some(2));
    assert_eq!(
        installed
            .locations
            .iter()
            .map(|l| l.id.clone())
            .collect::<BTreeSet<_>>(),
        all
    );
    assert!(
        installed
            .locations
            .iter()
            .all(|l| l.is_installed == Some(true))
    );
    assert!(installed.locations.iter().all(|l| !l.name.is_empty()));

    // The same through the offset stream, one location per page.
    let query = InstalledLocationsQuery {
        company_id: company.clone(),
        app_id: app.app_id().to_owned(),
        limit: Some(1),
        is_installed: Some(true),
        ..Default::default()
    };
    let streamed: Vec<String> =
        installed_locations_stream(&app.agency_client(&agency_token), query)
            .map(|l| l.unwrap().id)
            .collect()
            .await;
    assert_eq!(streamed.len(), 2);
    assert_eq!(streamed.into_iter().collect::<BTreeSet<_>>(), all);

    // A location token from the agency token works on that location only.
    let minted = app
        .location_token(&agency_token, &company, &ctx.a.id)
        .await
        .unwrap();
    assert_eq!(minted.location_id.as_deref(), Some(ctx.a.id.as_str()));
    assert!(minted.refresh_token.is_some());
    assert!(
        minted
            .scope
            .as_deref()
            .is_some_and(|s| !s.contains("oauth.")),
        "{:?}",
        minted.scope
    );
    let loc_client = ctx.client_with(minted.access_token.expose_secret(), &ctx.a.id);
    let a_contact = ctx.contact_ids(&ctx.a.id)[0].clone();
    assert_eq!(
        loc_client.get_contact(&a_contact).await.unwrap().id,
        a_contact
    );
    let b_contact = ctx.contact_ids(&ctx.b.id)[0].clone();
    let err = loc_client.get_contact(&b_contact).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    // The agency token itself is not a location token.
    let agency_client = app.agency_client(&agency_token);
    let err = agency_client.get_contact(&a_contact).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    // A location token cannot mint location tokens.
    let err = app
        .location_token(&minted.access_token, &company, &ctx.b.id)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    ctx.shutdown().await;
}

/// The consent page over HTTP: GET the authorize URL, submit its form with a location,
/// follow nothing, read the redirect with `code` and `state`, exchange the code.
#[tokio::test]
async fn consent_page_redirects_with_code_and_state() {
    let ctx = spawn().await;
    let app = ctx.oauth_app();
    let url = app.authorize_url(&["contacts.readonly", "contacts.write"], "xyz");
    assert_eq!(url.path(), "/v2/oauth/chooselocation");
    assert_eq!(url.host_str(), ctx.base.host_str());

    let resp = ctx.http.get(url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap();
    let form = parse_form(&html);
    assert_eq!(form.method, "post");
    assert!(
        form.radios.contains(&ctx.a.id) && form.radios.contains(&ctx.info.company_id),
        "{:?}",
        form.radios
    );
    let field = |name: &str| {
        form.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} in {:?}", form.fields))
    };
    assert_eq!(field("client_id"), ctx.info.client_id);
    assert_eq!(field("redirect_uri"), REDIRECT_URI);
    assert_eq!(field("scope"), "contacts.readonly contacts.write");
    assert_eq!(field("state"), "xyz");

    let mut pairs = form.fields.clone();
    pairs.push(("location_id".to_owned(), ctx.a.id.clone()));
    let resp = ctx
        .http
        .post(ctx.url(&form.action))
        .form(&pairs)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert!(status == 302 || status == 303, "status {status}");
    let location = resp
        .headers()
        .get("location")
        .expect("Location header")
        .to_str()
        .unwrap()
        .to_owned();
    let redirect = Url::parse(&location).unwrap();
    assert_eq!(
        format!(
            "{}://{}{}",
            redirect.scheme(),
            redirect.host_str().unwrap(),
            redirect.path()
        ),
        REDIRECT_URI
    );
    let query: Vec<(String, String)> = redirect.query_pairs().into_owned().collect();
    let code = query
        .iter()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.clone())
        .expect("code");
    assert!(
        query.contains(&("state".to_owned(), "xyz".to_owned())),
        "{query:?}"
    );
    assert!(!code.is_empty());

    let tokens = app.exchange_code(&code, None).await.unwrap();
    assert_eq!(tokens.location_id.as_deref(), Some(ctx.a.id.as_str()));
    let client = ctx.client_with(tokens.access_token.expose_secret(), &ctx.a.id);
    let id = ctx.contact_ids(&ctx.a.id)[0].clone();
    assert_eq!(client.get_contact(&id).await.unwrap().id, id);
    ctx.shutdown().await;
}

/// The consent form: where it posts, its hidden fields, and the location choices.
#[derive(Debug)]
struct ConsentForm {
    method: String,
    action: String,
    fields: Vec<(String, String)>,
    radios: Vec<String>,
}

/// A small, strict reader of the consent page (no HTML crate needed).
fn parse_form(html: &str) -> ConsentForm {
    let start = html.find("<form").expect("a form");
    let form_tag = &html[start..start + html[start..].find('>').unwrap()];
    let mut form = ConsentForm {
        method: attr(form_tag, "method").unwrap_or_default().to_lowercase(),
        action: attr(form_tag, "action").expect("form action"),
        fields: Vec::new(),
        radios: Vec::new(),
    };
    let mut rest = &html[start..];
    while let Some(i) = rest.find("<input") {
        let end = rest[i..].find('>').unwrap();
        let tag = &rest[i..i + end];
        let name = attr(tag, "name").unwrap_or_default();
        let value = attr(tag, "value").unwrap_or_default();
        match attr(tag, "type").as_deref() {
            Some("hidden") => form.fields.push((name, value)),
            Some("radio") if name == "location_id" => form.radios.push(value),
            _ => {}
        }
        rest = &rest[i + end..];
    }
    form
}

/// The unescaped value of `name="..."` in a tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(
        tag[start..start + len]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}
