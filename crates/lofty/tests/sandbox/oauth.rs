//! The vendor OAuth flow against the sandbox: consent, code exchange, single-use
//! refresh, client credentials, and the Bearer token at work.

use lofty::OAuthApp;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

use crate::helpers::{oauth_client, spawn};

const REDIRECT: &str = "http://localhost/cb";

#[tokio::test]
async fn code_exchange_refresh_and_client_credentials() {
    let ctx = spawn().await;
    let app = OAuthApp::new(
        ctx.info.client_id.clone(),
        SecretString::from(ctx.info.client_secret.clone()),
        REDIRECT,
    )
    .unwrap()
    .with_token_url(Url::parse(&ctx.info.token_url).unwrap())
    .with_authorize_url(ctx.url("/page/vendor-auth.html"));

    // The consent page approves at once and redirects with the code and state.
    let consent = app.consent_url("st-1");
    let resp = ctx.http.get(consent).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let location = Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let pairs: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(pairs["state"], "st-1");
    let code = SecretString::from(pairs["code"].clone());

    let tokens = app.exchange_code(&code).await.unwrap();
    assert_eq!(tokens.expires_in, 3600);
    let me = oauth_client(&ctx.base, tokens.access_token.expose_secret())
        .me()
        .await
        .unwrap();
    assert_eq!(me.member_user_id, ctx.owner());
    // Codes are single use.
    let err = app.exchange_code(&code).await.unwrap_err();
    assert_eq!(err.status(), Some(400));

    let refresh = tokens.refresh_token.unwrap();
    let renewed = app.refresh(&refresh).await.unwrap();
    assert_ne!(
        renewed.access_token.expose_secret(),
        tokens.access_token.expose_secret()
    );
    let err = app.refresh(&refresh).await.unwrap_err();
    assert_eq!(
        err.server_message(),
        Some("The refresh token was already used or revoked.")
    );

    // Server to server: a token acting as the agent whose key is given.
    let agent = app
        .client_credentials(&SecretString::from(ctx.info.agent_api_key.clone()))
        .await
        .unwrap();
    let me = oauth_client(&ctx.base, agent.access_token.expose_secret())
        .me()
        .await
        .unwrap();
    assert_eq!(me.member_user_id, ctx.info.member_user_ids[1]);

    // A wrong secret is refused.
    let wrong = OAuthApp::new(
        ctx.info.client_id.clone(),
        SecretString::from("nope"),
        REDIRECT,
    )
    .unwrap()
    .with_token_url(Url::parse(&ctx.info.token_url).unwrap());
    let err = wrong.refresh(&refresh).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!format!("{err:?}").contains(ctx.info.client_secret.as_str()));

    // A code minted by the control works the same way.
    let code = ctx
        .post("/_sandbox/oauth/code", json!({"redirect_uri": REDIRECT}))
        .await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    app.exchange_code(&SecretString::from(code)).await.unwrap();
    ctx.shutdown().await;
}
