//! Switching a flow on: the file, the connections' systems and scopes checked first.

use domain::sync::{
    AccountField, AccountsSection, CustomPairing, OnNone, Registry, Side, SyncFile,
};
use store::{FlowRow, StoreError};

use crate::connectors::{Connector, ConnectorError, Connectors};

/// The scope that reads a GHL location's custom fields.
const CUSTOM_FIELDS_SCOPE: &str = "locations/customFields.readonly";

/// Why a flow cannot be enabled (each names the fix).
#[derive(Debug, thiserror::Error)]
pub enum EnableError {
    #[error("{0}")]
    File(#[from] domain::sync::SyncFileError),
    #[error("there is no recipe `{0}`; the recipes are: {1}")]
    NoRecipe(String, String),
    #[error("connection `{0}` does not exist (see `ghlsync connections`)")]
    NoConnection(String),
    #[error("connection `{id}` is a {system} connection, but the flow's {side} side is {object}")]
    WrongSystem {
        id: String,
        system: String,
        side: Side,
        object: String,
    },
    #[error(
        "connection `{id}` lacks the scope {scope}, which this flow's writes to GHL need (it has: {has}); {fix}"
    )]
    MissingScope {
        id: String,
        scope: String,
        has: String,
        /// How to add it, for this kind of connection.
        fix: String,
    },
    #[error("cannot read the custom fields of connection `{id}`: {error}")]
    CustomFields { id: String, error: ConnectorError },
    #[error(
        "flow `{flow}` syncs the children of `{parent}`'s records, which is not enabled: enable it first (ghlsync flows enable {parent})"
    )]
    NoParent { flow: String, parent: String },
    #[error(
        "flow `{flow}` must use the connections of its parent `{parent}` ({left} and {right}): its children are created under that flow's linked records"
    )]
    ParentConnections {
        flow: String,
        parent: String,
        left: String,
        right: String,
    },
    #[error("cannot read the account of connection `{id}`: {error}")]
    Account { id: String, error: ConnectorError },
    #[error(
        "[tables.assignees] maps {entry}, which is not a user of these accounts; Lofty members (memberUserId): {lofty}; GHL users: {ghl}"
    )]
    Assignee {
        entry: String,
        lofty: String,
        ghl: String,
    },
    #[error(
        "flow `{flow}` and the enabled flow `{other}` sync the same {left} and {right} records and both write {side}: both on would copy each record twice; disable `{other}` first (ghlsync flows disable {other})"
    )]
    Overlaps {
        flow: String,
        other: String,
        left: String,
        right: String,
        side: Side,
    },
    #[error(
        "flow `{flow}` books appointments in GHL location {location}, which needs a calendar: set one in the config, `[ghl.calendars]` \"{location}\" = \"<calendar id or name>\" (or \"*\" for every location); the location's calendars: {calendars}"
    )]
    NoCalendar {
        flow: String,
        location: String,
        calendars: String,
    },
    #[error(
        "flow `{flow}`: the config's calendar `{wanted}` is not a calendar of GHL location {location}; its calendars: {calendars}"
    )]
    UnknownCalendar {
        flow: String,
        wanted: String,
        location: String,
        calendars: String,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Enables recipe or sync file `file` (TOML; id from its `[sync]`) between two
/// connections (ids or names). Checks the file, the connections' systems and the
/// scopes its writes need before anything is stored.
///
/// A file that pairs custom fields (`[custom_fields]`) or names one by key gets the
/// accounts' custom fields read now and written into its `[accounts]`: GHL's reads
/// name custom fields by id only. A GHL connection without
/// `locations/customFields.readonly` skips the pairing (with a warning), or is
/// refused when a field is named by key.
pub async fn enable(
    connectors: &Connectors,
    file: &str,
    left: &str,
    right: &str,
) -> Result<FlowRow, EnableError> {
    let row = prepare(connectors, file, left, right).await?;
    connectors.store().put_flow(&row).await?;
    Ok(row)
}

/// Everything [`enable`] checks and reads from the accounts, without storing the
/// flow: the row it would store (for a preview).
pub async fn prepare(
    connectors: &Connectors,
    file: &str,
    left: &str,
    right: &str,
) -> Result<FlowRow, EnableError> {
    let store = connectors.store();
    let mut file = file.to_owned();
    let parsed = SyncFile::parse("flow.toml", &file)?;
    let pairs = parsed
        .custom_fields
        .as_ref()
        .is_some_and(|c| c.pair == CustomPairing::ByKey);
    let by_key = |side: Side| {
        parsed.fields.iter().any(|f| match side {
            Side::Left => f.left.contains("[key="),
            Side::Right => f.right.contains("[key="),
        })
    };
    if pairs || by_key(Side::Left) || by_key(Side::Right) {
        let mut accounts = AccountsSection::default();
        for (side, wanted) in [(Side::Left, left), (Side::Right, right)] {
            let Some(fields) = account_fields(connectors, wanted, by_key(side)).await? else {
                continue;
            };
            match side {
                Side::Left => accounts.left = fields,
                Side::Right => accounts.right = fields,
            }
        }
        file = accounts.write_into(&file);
    }
    let file = file.as_str();
    let parsed = SyncFile::parse("flow.toml", file)?;
    let spec = parsed.build(
        &format!("{}.toml", parsed.sync.id),
        file,
        &Registry::default(),
    )?;
    let mut ids = Vec::new();
    for (side, wanted) in [(Side::Left, left), (Side::Right, right)] {
        let conn = store
            .find_connection(wanted)
            .await?
            .ok_or_else(|| EnableError::NoConnection(wanted.to_owned()))?;
        let object = spec.object(side).name;
        let system = object.split('.').next().unwrap_or_default();
        if conn.system.as_str() != system {
            return Err(EnableError::WrongSystem {
                id: conn.id.clone(),
                system: conn.system.as_str().to_owned(),
                side,
                object: object.to_owned(),
            });
        }
        let writes = writes_to(&spec, side);
        if system == "ghl" {
            let needed = ghl_scopes(object, writes);
            let has: Vec<&str> = conn.scopes.split_whitespace().collect();
            if let Some(missing) = needed.iter().find(|s| !has.contains(s)) {
                let mut wanted: Vec<&str> = has.clone();
                for s in &needed {
                    if !wanted.contains(s) {
                        wanted.push(s);
                    }
                }
                return Err(EnableError::MissingScope {
                    id: conn.id.clone(),
                    scope: (*missing).to_owned(),
                    has: if has.is_empty() {
                        "none".to_owned()
                    } else {
                        has.join(" ")
                    },
                    fix: add_scopes_hint(&conn, &wanted.join(" ")),
                });
            }
        }
        ids.push(conn.id);
    }
    if let Some(parent) = &spec.parent {
        let row = store.flow(&parent.flow).await?.filter(|r| r.enabled);
        let Some(row) = row else {
            return Err(EnableError::NoParent {
                flow: spec.id.clone(),
                parent: parent.flow.clone(),
            });
        };
        if row.left_connection != ids[0] || row.right_connection != ids[1] {
            return Err(EnableError::ParentConnections {
                flow: spec.id.clone(),
                parent: parent.flow.clone(),
                left: row.left_connection,
                right: row.right_connection,
            });
        }
    }
    // Two flows over the same records may both be on only when they write
    // different sides (the two one-way appointment recipes).
    for other in super::enabled_flows(store).await? {
        if other.row.id == spec.id {
            continue;
        }
        let same = |a: Side, b: Side| {
            other.spec.object(a).name == spec.left.name
                && other.spec.object(b).name == spec.right.name
                && other.connection(a) == ids[0]
                && other.connection(b) == ids[1]
        };
        let flipped = if same(Side::Left, Side::Right) {
            false
        } else if same(Side::Right, Side::Left) {
            true
        } else {
            continue;
        };
        for side in [Side::Left, Side::Right] {
            let theirs = if flipped { side.other() } else { side };
            if writes_to(&spec, side) && writes_to(&other.spec, theirs) {
                return Err(EnableError::Overlaps {
                    flow: spec.id.clone(),
                    other: other.row.id.clone(),
                    left: spec.left.name.to_owned(),
                    right: spec.right.name.to_owned(),
                    side,
                });
            }
        }
    }
    check_assignees(connectors, &parsed, &spec, &ids).await?;
    // What records this flow creates need from the accounts (a GHL calendar, a
    // Lofty time zone), found now and kept in the stored file.
    let mut file = file.to_owned();
    let mut accounts = parsed.accounts.clone().unwrap_or_default();
    let mut found = false;
    for (side, conn) in [(Side::Left, &ids[0]), (Side::Right, &ids[1])] {
        if !writes_to(&spec, side) {
            continue;
        }
        let values = create_values(connectors, &spec, spec.object(side).name, conn).await?;
        if !values.is_empty() {
            found = true;
            match side {
                Side::Left => accounts.left_create.extend(values),
                Side::Right => accounts.right_create.extend(values),
            }
        }
    }
    if found {
        file = accounts.write_into(&file);
        SyncFile::parse("flow.toml", &file)?.build(
            &format!("{}.toml", spec.id),
            &file,
            &Registry::default(),
        )?;
    }
    let row = FlowRow {
        id: spec.id.clone(),
        file,
        left_connection: ids[0].clone(),
        right_connection: ids[1].clone(),
        enabled: true,
        created_at: store.now(),
        updated_at: store.now(),
    };
    Ok(row)
}

/// Whether the flow writes records on `side` (a field toward it, or creates).
pub(crate) fn writes_to(spec: &domain::sync::SyncSpec, side: Side) -> bool {
    spec.fields.iter().any(|f| f.toward(side.other()).is_some())
        || (spec.parent.is_none() && spec.on_none == OnNone::Create)
}

/// A task flow's `[tables.assignees]` (Lofty member's user id -> GHL user id),
/// checked against the users of both accounts: an entry naming someone unknown is
/// refused, listing who there is. An empty table (the default) reads nothing.
async fn check_assignees(
    connectors: &Connectors,
    parsed: &SyncFile,
    spec: &domain::sync::SyncSpec,
    ids: &[String],
) -> Result<(), EnableError> {
    let Some(table) = parsed.tables.get("assignees").filter(|t| !t.is_empty()) else {
        return Ok(());
    };
    let mut lofty_users = Vec::new();
    let mut ghl_users = Vec::new();
    for (side, id) in [(Side::Left, &ids[0]), (Side::Right, &ids[1])] {
        let account = |error| EnableError::Account {
            id: id.clone(),
            error,
        };
        match connectors.open(id).await.map_err(account)? {
            crate::connectors::Connector::Ghl(c) if spec.object(side).name.starts_with("ghl.") => {
                let has: Vec<&str> = c.connection.scopes.split_whitespace().collect();
                if !has.contains(&"users.readonly") {
                    let mut wanted = has.clone();
                    wanted.push("users.readonly");
                    return Err(EnableError::MissingScope {
                        id: id.clone(),
                        scope: "users.readonly".to_owned(),
                        has: has.join(" "),
                        fix: add_scopes_hint(&c.connection, &wanted.join(" ")),
                    });
                }
                let loc = c.connection.location_id.clone().unwrap_or_default();
                let users = c
                    .client()
                    .list_users(&loc)
                    .await
                    .map_err(|e| account(e.into()))?;
                ghl_users = users.into_iter().map(|u| (u.id, u.name)).collect();
            }
            crate::connectors::Connector::Lofty(c) => {
                let q = lofty::models::MemberQuery {
                    limit: Some(100),
                    ..Default::default()
                };
                let page = c
                    .client
                    .list_members(&q)
                    .await
                    .map_err(|e| account(e.into()))?;
                lofty_users = page
                    .members
                    .into_iter()
                    .map(|m| {
                        let name = format!(
                            "{} {}",
                            m.first_name.unwrap_or_default(),
                            m.last_name.unwrap_or_default()
                        );
                        (m.member_user_id.to_string(), name.trim().to_owned())
                    })
                    .collect();
            }
            _ => {}
        }
    }
    let list = |users: &[(String, String)]| {
        users
            .iter()
            .map(|(id, name)| format!("{id} ({name})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (member, user) in table {
        let user = match user {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let known_member = lofty_users.iter().any(|(id, _)| id == member);
        let known_user = ghl_users.iter().any(|(id, _)| *id == user);
        if !known_member || !known_user {
            return Err(EnableError::Assignee {
                entry: format!("\"{member}\" = \"{user}\""),
                lofty: list(&lofty_users),
                ghl: list(&ghl_users),
            });
        }
    }
    Ok(())
}

/// The scopes a GHL connection needs to sync `object` (and to write it).
fn ghl_scopes(object: &str, writes: bool) -> Vec<&'static str> {
    let mut needed = vec!["contacts.readonly"];
    if object == "ghl.appointment" {
        needed.push("calendars/events.readonly");
        if writes {
            // Booking needs the calendar, checked against the location's list.
            needed.extend(["calendars/events.write", "calendars.readonly"]);
        }
        return needed;
    }
    if writes {
        needed.push("contacts.write");
    }
    // GHL's TaskCreate webhook is reported without its contact: the task is found
    // by a search of the location's tasks.
    if object == "ghl.task" {
        needed.push("locations/tasks.readonly");
    }
    needed
}

/// The values every record of `object` this flow creates through connection
/// `conn` gets: a GHL appointment's calendar (the config's `[ghl.calendars]`,
/// checked against the location's calendars), a Lofty appointment's time zone
/// (the Lofty user's own).
async fn create_values(
    connectors: &Connectors,
    spec: &domain::sync::SyncSpec,
    object: &str,
    conn: &str,
) -> Result<std::collections::BTreeMap<String, String>, EnableError> {
    let mut values = std::collections::BTreeMap::new();
    let failed = |error| EnableError::Account {
        id: conn.to_owned(),
        error,
    };
    match object {
        "ghl.appointment" if !spec.create_left.contains_key("calendarId") => {
            let Connector::Ghl(c) = connectors.open(conn).await.map_err(failed)? else {
                return Ok(values);
            };
            let location = c.connection.location_id.clone().unwrap_or_default();
            let calendars = c
                .client()
                .list_calendars(&location)
                .await
                .map_err(|e| failed(ConnectorError::Ghl(e)))?;
            let listed = calendars
                .iter()
                .map(|k| format!("{} ({})", k.id, k.name))
                .collect::<Vec<_>>()
                .join(", ");
            let listed = if listed.is_empty() {
                "none".to_owned()
            } else {
                listed
            };
            let Some(wanted) = connectors.ghl_calendar(&location) else {
                return Err(EnableError::NoCalendar {
                    flow: spec.id.clone(),
                    location,
                    calendars: listed,
                });
            };
            let Some(calendar) = calendars
                .iter()
                .find(|k| k.id == wanted || k.name.eq_ignore_ascii_case(wanted))
            else {
                return Err(EnableError::UnknownCalendar {
                    flow: spec.id.clone(),
                    wanted: wanted.to_owned(),
                    location,
                    calendars: listed,
                });
            };
            values.insert("calendarId".to_owned(), calendar.id.clone());
        }
        "lofty.appointment" if !spec.create_right.contains_key("timeZoneCode") => {
            let Connector::Lofty(c) = connectors.open(conn).await.map_err(failed)? else {
                return Ok(values);
            };
            let me = c
                .client
                .call("lofty-get-me", serde_json::json!({}))
                .await
                .map_err(|e| failed(ConnectorError::Lofty(e)))?;
            if let Some(zone) = me["timeZoneId"].as_str().filter(|z| !z.is_empty()) {
                values.insert("timeZoneCode".to_owned(), zone.to_owned());
            }
        }
        _ => {}
    }
    Ok(values)
}

/// The custom fields of connection `wanted` (GHL: the location's contact fields;
/// Lofty: the account's custom attributes). `None` when a GHL connection lacks the
/// scope to read them and `named` is false (with `named`, that is an error naming
/// the fix).
pub async fn account_fields(
    connectors: &Connectors,
    wanted: &str,
    named: bool,
) -> Result<Option<Vec<AccountField>>, EnableError> {
    let Some(conn) = connectors.store().find_connection(wanted).await? else {
        return Err(EnableError::NoConnection(wanted.to_owned()));
    };
    if conn.system == domain::System::Ghl
        && !conn
            .scopes
            .split_whitespace()
            .any(|s| s == CUSTOM_FIELDS_SCOPE)
    {
        let mut with: Vec<&str> = conn.scopes.split_whitespace().collect();
        with.push(CUSTOM_FIELDS_SCOPE);
        if named {
            return Err(EnableError::MissingScope {
                id: conn.id.clone(),
                scope: CUSTOM_FIELDS_SCOPE.to_owned(),
                has: conn.scopes.clone(),
                fix: add_scopes_hint(&conn, &with.join(" ")),
            });
        }
        tracing::warn!(
            connection = %conn.id,
            "CustomFieldsSkipped: connection {} lacks {CUSTOM_FIELDS_SCOPE}, so custom fields are not paired; to pair them: {}, then enable the flow again",
            conn.id,
            add_scopes_hint(&conn, &with.join(" "))
        );
        return Ok(None);
    }
    let failed = |error| EnableError::CustomFields {
        id: conn.id.clone(),
        error,
    };
    let fields = match connectors.open(&conn.id).await.map_err(failed)? {
        Connector::Ghl(c) => {
            let location = c.connection.location_id.clone().unwrap_or_default();
            c.client()
                .list_custom_fields(&location, Some(ghl::models::CustomFieldModel::Contact))
                .await
                .map_err(|e| failed(ConnectorError::Ghl(e)))?
                .into_iter()
                .map(|f| AccountField {
                    key: f.field_key.clone().unwrap_or_else(|| f.name.clone()),
                    select: f.id,
                })
                .collect()
        }
        Connector::Lofty(c) => c
            .client
            .list_custom_fields()
            .await
            .map_err(|e| failed(ConnectorError::Lofty(e)))?
            .into_iter()
            .map(|f| AccountField {
                key: f.attribute_name.clone(),
                select: f.attribute_name,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Some(fields))
}

/// Enables a recipe that ships in the binary.
pub async fn enable_recipe(
    connectors: &Connectors,
    recipe: &str,
    left: &str,
    right: &str,
) -> Result<FlowRow, EnableError> {
    let text = domain::sync::recipes::source(recipe).ok_or_else(|| {
        EnableError::NoRecipe(
            recipe.to_owned(),
            domain::sync::recipes::RECIPES
                .iter()
                .map(|r| r.0)
                .collect::<Vec<_>>()
                .join(", "),
        )
    })?;
    enable(connectors, text, left, right).await
}

/// How to give a GHL connection more scopes: a PIT is reconnected with the token's
/// scopes; an OAuth connection asks for them at a new consent.
pub fn add_scopes_hint(conn: &store::Connection, wanted: &str) -> String {
    if conn.kind == domain::AuthKind::Pit {
        format!(
            "give the Private Integration Token these scopes in GHL, then: ghlsync connect ghl --pit --location-id {} --scopes \"{wanted}\"",
            conn.location_id.as_deref().unwrap_or("<location>")
        )
    } else {
        format!(
            "set `[ghl] scopes` to include them (\"{wanted}\"; the marketplace app needs them too), restart the server, and run `ghlsync connect ghl` again"
        )
    }
}
