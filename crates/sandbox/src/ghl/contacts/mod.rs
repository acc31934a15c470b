//! The 32 operations of GHL's Contacts API (`apps/contacts.json`): their routes, and the
//! lookups every family of them shares.
//!
//! | module | what it emulates |
//! |---|---|
//! | `crud` | create, get, update, delete, upsert, duplicate search, lists, appointments |
//! | `fields` | how an input lands on a stored contact, and the webhooks of the change |
//! | `search` | `POST /contacts/search` (filters, sort, pages or `searchAfter`) |
//! | `memberships` | tags, followers, campaigns and workflows of one contact |
//! | `bulk` | bulk tags and bulk business |
//! | `sub_resource` | what tasks and notes share: list, get, create, update, delete |
//! | `tasks` | a contact's tasks |
//! | `notes` | a contact's notes |

mod bulk;
mod crud;
mod fields;
mod memberships;
mod notes;
mod search;
mod sub_resource;
mod tasks;

use axum::Router;
use axum::extract::Path;
use axum::routing::{delete, get, post, put};

use super::App;
use super::http::{ApiError, Caller};
use super::state::{Contact, Location, Note, Task, World};
use sub_resource as sub;

const READ: &str = "contacts.readonly";
const WRITE: &str = "contacts.write";

/// A contact id and the id of something on it (task, note, campaign, workflow).
type TwoIds = Path<(String, String)>;

/// The Contacts routes, for the API router (which adds the gate).
pub fn routes() -> Router<App> {
    use bulk as b;
    use crud as c;
    use memberships as m;
    Router::new()
        .route("/contacts/search", post(search::search))
        .route("/contacts/search/duplicate", get(c::duplicate))
        .route("/contacts/upsert", post(c::upsert_contact))
        .route("/contacts/bulk/tags/update/{type}", post(b::bulk_tags))
        .route("/contacts/bulk/business", post(b::bulk_business))
        .route("/contacts/business/{businessId}", get(c::by_business))
        .route("/contacts/", post(c::create_contact).get(c::list_contacts))
        .route("/contacts", post(c::create_contact).get(c::list_contacts))
        .route(
            "/contacts/{contactId}",
            get(c::get_contact)
                .put(c::update_contact)
                .delete(c::delete_contact),
        )
        .route(
            "/contacts/{contactId}/tasks",
            get(sub::list::<Task>).post(sub::create::<Task>),
        )
        .route(
            "/contacts/{contactId}/tasks/{taskId}",
            get(sub::get::<Task>)
                .put(sub::update::<Task>)
                .delete(sub::delete::<Task>),
        )
        .route(
            "/contacts/{contactId}/tasks/{taskId}/completed",
            put(tasks::complete_task),
        )
        .route(
            "/contacts/{contactId}/appointments",
            get(c::contact_appointments),
        )
        .route(
            "/contacts/{contactId}/tags",
            post(m::add_tags).delete(m::remove_tags),
        )
        .route(
            "/contacts/{contactId}/notes",
            get(sub::list::<Note>).post(sub::create::<Note>),
        )
        .route(
            "/contacts/{contactId}/notes/{id}",
            get(sub::get::<Note>)
                .put(sub::update::<Note>)
                .delete(sub::delete::<Note>),
        )
        .route(
            "/contacts/{contactId}/followers",
            post(m::add_followers).delete(m::remove_followers),
        )
        .route(
            "/contacts/{contactId}/campaigns/removeAll",
            delete(m::remove_all_campaigns),
        )
        .route(
            "/contacts/{contactId}/campaigns/remove-all",
            delete(m::remove_all_campaigns),
        )
        .route(
            "/contacts/{contactId}/campaigns/{campaignId}",
            post(m::add_campaign).delete(m::remove_campaign),
        )
        .route(
            "/contacts/{contactId}/workflow/{workflowId}",
            post(m::add_workflow).delete(m::remove_workflow),
        )
}

fn contact_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Contact with id {id} not found"))
}

/// The location holding `contact_id`, after checking the caller may use it.
pub fn contact_location<'a>(
    world: &'a mut World,
    caller: &Caller,
    contact_id: &str,
) -> Result<&'a mut Location, ApiError> {
    let loc_id = world
        .location_of_contact(contact_id)
        .map(str::to_owned)
        .ok_or_else(|| contact_not_found(contact_id))?;
    caller.location(&loc_id)?;
    world
        .locations
        .get_mut(&loc_id)
        .ok_or_else(|| contact_not_found(contact_id))
}

/// The location named in a request, after checking the caller may use it.
pub fn named_location<'a>(
    world: &'a mut World,
    caller: &Caller,
    location_id: &str,
) -> Result<&'a mut Location, ApiError> {
    caller.location(location_id)?;
    world
        .locations
        .get_mut(location_id)
        .ok_or_else(ApiError::forbidden_location)
}

/// The free-text `query` of the list and search endpoints: a case-insensitive
/// substring of a name, the email, the phone or the company.
fn matches_query(c: &Contact, q: &str) -> bool {
    let q = q.to_lowercase();
    [
        "firstName",
        "lastName",
        "name",
        "email",
        "phone",
        "companyName",
    ]
    .iter()
    .filter_map(|k| c.str_field(k))
    .any(|v| v.to_lowercase().contains(&q))
}
