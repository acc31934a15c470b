//! `ghl.event`: a journaled GHL webhook. INSTALL and UNINSTALL change connections;
//! other events are recorded as skipped until a flow consumes them (the journal
//! keeps the body for replay).

use super::{Context, Failed, Outcome, Verdict};
use crate::connections::{agency_connection_id, on_install, on_uninstall};
use crate::jobs::GhlEvent;

pub async fn run(ctx: &Context, job: &GhlEvent) -> Result<Outcome, Failed> {
    let record = format!("ghl:event:{}", job.webhook_id);
    let location = job.location_id.as_deref();
    match job.event_type.as_str() {
        "INSTALL" => install(ctx, job, record).await,
        "UNINSTALL" => {
            let at = job.timestamp.as_deref().unwrap_or("unknown time");
            match on_uninstall(ctx.store(), location, at).await {
                Ok(Some(id)) => Ok(Outcome::new(
                    record,
                    Verdict::Disabled,
                    format!("UNINSTALL: connection {id} disabled; jobs held"),
                )),
                Ok(None) => Ok(Outcome::new(
                    record,
                    Verdict::Skipped,
                    "UNINSTALL for an unknown location",
                )),
                Err(e) => Err(Failed::retry(format!("UNINSTALL: {e}"))),
            }
        }
        other => Ok(Outcome::new(
            record,
            Verdict::Skipped,
            format!(
                "{other} for location {}: no flow consumes this event yet",
                location.unwrap_or("unknown")
            ),
        )),
    }
}

/// INSTALL on a location of a connected agency: mint the location's token from the
/// agency's (kept fresh by the token source) and store its connection.
async fn install(ctx: &Context, job: &GhlEvent, record: String) -> Result<Outcome, Failed> {
    let tokens = ctx.connectors.tokens();
    let Some(app) = tokens.app() else {
        return Err(Failed::give_up(
            "INSTALL received but no GHL client_id/client_secret is configured",
        ));
    };
    let not_ours = || {
        Ok(Outcome::new(
            record.clone(),
            Verdict::Skipped,
            "INSTALL for a location of no connected agency",
        ))
    };
    let (Some(company), Some(location)) = (job.company_id.as_deref(), job.location_id.as_deref())
    else {
        return not_ours();
    };
    let Some(agency) = ctx
        .store()
        .connection(&agency_connection_id(company))
        .await?
    else {
        // A location install without an agency connection: the user connects it via OAuth.
        return not_ours();
    };
    let agency_token = tokens
        .access_token(&agency)
        .await
        .map_err(|e| Failed::retry(format!("INSTALL: {e}")))?;
    match on_install(ctx.store(), app, &agency_token, company, location).await {
        Ok(id) => Ok(Outcome::new(
            record,
            Verdict::Connected,
            format!("INSTALL: connection {id} is active"),
        )),
        Err(e) => Err(Failed::retry(format!("INSTALL: {e}"))),
    }
}
