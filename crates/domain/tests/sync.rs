//! The sync model's decisions, one rule at a time: the sync file and its errors,
//! the three-way merge against the shadow (every conflict rule, blanks, sets,
//! echoes), first-time matching, and the transform laws under arbitrary input.

use domain::sync::{
    self, ConflictRule, MatchOutcome, Plan, Registry, Shadow, Side, SyncFile, SyncSpec, Versions,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn recipe() -> SyncSpec {
    sync::recipes::load("lofty-ghl-contacts", &Registry::default())
        .expect("the recipe ships")
        .expect("the recipe builds")
}

/// The recipe with every field's conflict rule set to `rule`.
fn with_rule(rule: ConflictRule) -> SyncSpec {
    let mut spec = recipe();
    for f in &mut spec.fields {
        f.conflict = rule;
    }
    spec
}

fn contact() -> Value {
    json!({"id": "c1", "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee",
        "phone": "+14155550123", "tags": ["buyer"], "source": "web", "companyName": "Acme"})
}

fn lead() -> Value {
    json!({"leadId": 7, "emails": ["ann@example.com", "ann.work@example.com"], "firstName": "Ann",
        "lastName": "Lee", "phones": ["(415) 555-0123"], "tags": [{"tagName": "buyer"}],
        "source": "web", "stage": "New"})
}

/// Applies a plan's patches as the systems would, returning the new records.
fn apply(plan: &Plan, left: &Value, right: &Value) -> (Value, Value) {
    let merge = |rec: &Value, patch: &serde_json::Map<String, Value>| {
        let mut out = if rec.is_object() {
            rec.clone()
        } else {
            json!({})
        };
        for (k, v) in patch {
            out[k] = v.clone();
        }
        out
    };
    (merge(left, &plan.left), merge(right, &plan.right))
}

/// A pair in sync: the plan of a fresh pair, applied, gives the shadow.
fn synced() -> (Value, Value, Shadow) {
    let spec = recipe();
    let p = sync::plan(&spec, &contact(), &lead(), None, Versions::default());
    let (l, r) = apply(&p, &contact(), &lead());
    (l, r, p.shadow)
}

#[test]
fn the_recipe_builds_and_its_schema_is_generated() {
    let spec = recipe();
    assert_eq!(spec.id, "lofty-ghl-contacts");
    assert_eq!(spec.left.name, "ghl.contact");
    assert_eq!(spec.right.name, "lofty.lead");
    let names: Vec<&str> = spec.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["email", "firstName", "lastName", "phone", "tags", "source"]
    );
    let schema = SyncFile::json_schema();
    let text = schema.to_string();
    for key in [
        "\"sync\"",
        "\"match\"",
        "\"field\"",
        "\"deletes\"",
        "left_unless_blank",
        "union",
    ] {
        assert!(text.contains(key), "schema lacks {key}");
    }
}

#[test]
fn bad_files_name_the_file_line_field_and_fix() {
    let base = sync::recipes::source("lofty-ghl-contacts").unwrap();
    let reg = Registry::default();
    let cases = [
        (
            base.replace("right = \"lofty.lead\"", "right = \"lofty.leed\""),
            "`lofty.leed` is not an object type; known: ghl.contact, lofty.lead",
        ),
        (
            base.replace("right = \"source\"", "right = \"sauce\""),
            "field `source`: `lofty.lead` has no field `sauce`",
        ),
        (
            base.replace(
                "left = \"source\"\nright = \"source\"",
                "left = \"dateUpdated\"\nright = \"source\"",
            ),
            "`ghl.contact.dateUpdated` is set by ghl itself and cannot be written",
        ),
        (
            base.replace(
                "inverse = [{ fn = \"phone_e164\", region = \"US\" }]",
                "transforms = [{ fn = \"truncate\", max = 12 }]",
            ),
            "field `phone` is two-way but `truncate` cannot be undone: add `inverse = [...]`",
        ),
        (
            base.replace("array = \"union\"", "array = \"union\"\n")
                .replace("left = \"tags\"", "left = \"source\"\nname = \"t\""),
            "array = \"union\" needs a list on both sides",
        ),
        (
            base.replace("right = \"unlink\"", "right = \"shred\""),
            "expected unlink, review, delete or tag:<name>",
        ),
        (
            base.replace(
                "transforms = [\"trim\"]\n\n[[field]]\nleft = \"firstName\"",
                "transforms = [\"trimm\"]\n\n[[field]]\nleft = \"firstName\"",
            ),
            "transform `trimm`: `trimm` is not a transform",
        ),
        (
            base.replace("on_none = \"create\"", "on_none = \"guess\""),
            "unknown variant `guess`",
        ),
    ];
    for (text, want) in cases {
        let err = SyncFile::load("recipe.toml", &text, &reg).unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("recipe.toml:"), "{shown}");
        assert!(shown.contains(want), "{shown}\n  wanted: {want}");
        assert!(err.line > 1, "{shown}");
    }
    // The line is the field's own block.
    let text = base
        .replace("right = \"sauce\"", "")
        .replace("right = \"source\"", "right = \"sauce\"");
    let err = SyncFile::load("r.toml", &text, &reg).unwrap_err();
    let line = text.lines().nth(err.line - 1).unwrap();
    assert_eq!(line, "[[field]]", "{err}");
    assert!(
        text.lines()
            .skip(err.line)
            .take(3)
            .any(|l| l.contains("sauce")),
        "{err}"
    );
}

#[test]
fn a_new_pair_fills_blanks_and_agrees_on_equal_values() {
    let spec = recipe();
    let mut c = contact();
    c["firstName"] = json!("");
    c["tags"] = json!(["vip"]);
    let p = sync::plan(&spec, &c, &lead(), None, Versions::default());
    // The phone is the same number in two formats: no write, no conflict.
    assert!(p.conflicts.is_empty(), "{:?}", p.conflicts);
    assert_eq!(p.left.get("firstName"), Some(&json!("Ann")));
    assert_eq!(p.left.get("tags"), Some(&json!(["vip", "buyer"])));
    assert_eq!(
        p.right.get("tags"),
        Some(&json!([{"tagName": "buyer"}, {"tagName": "vip"}]))
    );
    assert!(!p.right.contains_key("phones") && !p.left.contains_key("phone"));
    assert!(
        !p.right.contains_key("emails"),
        "the email is the first of the lead's"
    );
}

#[test]
fn creating_a_contact_from_a_lead_maps_every_field_in_one_patch() {
    let spec = recipe();
    let p = sync::plan(&spec, &Value::Null, &lead(), None, Versions::default());
    assert!(p.right.is_empty(), "{:?}", p.right);
    assert_eq!(
        Value::Object(p.left),
        json!({"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee",
            "phone": "+14155550123", "tags": ["buyer"], "source": "web"})
    );
    // And a lead from a contact: E.164 as GHL has it, tags as objects.
    let p = sync::plan(&spec, &contact(), &Value::Null, None, Versions::default());
    assert_eq!(p.right["emails"], json!(["ann@example.com"]));
    assert_eq!(p.right["phones"], json!(["+14155550123"]));
    assert_eq!(p.right["tags"], json!([{"tagName": "buyer"}]));
}

#[test]
fn one_side_changed_is_written_to_the_other_and_nothing_else() {
    let spec = recipe();
    let (l, r, shadow) = synced();
    // In sync: no call.
    assert!(sync::plan(&spec, &l, &r, Some(&shadow), Versions::default()).is_noop());
    // An unmapped field changed: no call.
    let mut r2 = r;
    r2["stage"] = json!("Hot");
    r2["phones"] = json!(["415.555.0123"]);
    let p = sync::plan(&spec, &l, &r2, Some(&shadow), Versions::default());
    assert!(
        p.is_noop(),
        "a reformatted phone and an unmapped field are no change: {p:?}"
    );
    // A mapped field changed on Lofty: one field to GHL.
    r2["lastName"] = json!("Lee-Smith");
    let p = sync::plan(&spec, &l, &r2, Some(&shadow), Versions::default());
    assert_eq!(
        Value::Object(p.left.clone()),
        json!({"lastName": "Lee-Smith"})
    );
    assert!(p.right.is_empty());
    assert_eq!(p.diffs.len(), 1);
    assert_eq!(
        (p.diffs[0].side, &p.diffs[0].before),
        (Side::Left, &json!("Lee"))
    );
    // Its echo: GHL now has what we wrote; nothing to do, and the fingerprints agree.
    let (l3, r3) = apply(&p, &l, &r2);
    let again = sync::plan(&spec, &l3, &r3, Some(&p.shadow), Versions::default());
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(
        sync::fingerprint(&spec, Side::Left, &l3),
        sync::fingerprint(&spec, Side::Left, &{
            let mut w = l;
            w["lastName"] = json!("Lee-Smith");
            w
        })
    );
    // A GHL change reaches Lofty, keeping the lead's other emails.
    let mut l4 = l3;
    l4["email"] = json!("ann.new@example.com");
    let p = sync::plan(&spec, &l4, &r3, Some(&again.shadow), Versions::default());
    assert_eq!(
        p.right["emails"],
        json!(["ann.new@example.com", "ann.work@example.com"])
    );
}

#[test]
fn both_sides_changed_follow_each_conflict_rule() {
    let (l, r, shadow) = synced();
    let mut l2 = l.clone();
    l2["firstName"] = json!("Annie");
    let mut r2 = r.clone();
    r2["firstName"] = json!("Anna");
    let newer_right = Versions {
        left: Some(1_000),
        right: Some(2_000),
    };
    let newer_left = Versions {
        left: Some(3_000),
        right: Some(2_000),
    };
    let run = |rule, v: Versions, l: &Value, r: &Value| {
        sync::plan(&with_rule(rule), l, r, Some(&shadow), v)
    };

    let p = run(ConflictRule::Newest, newer_right, &l2, &r2);
    assert_eq!(p.left["firstName"], json!("Anna"));
    assert_eq!(p.conflicts[0].winner, Some(Side::Right));
    assert_eq!(
        (&p.conflicts[0].left, &p.conflicts[0].right),
        (&json!("Annie"), &json!("Anna"))
    );
    let p = run(ConflictRule::Newest, newer_left, &l2, &r2);
    assert_eq!(p.right["firstName"], json!("Annie"));

    assert_eq!(
        run(ConflictRule::Left, newer_right, &l2, &r2).right["firstName"],
        json!("Annie")
    );
    assert_eq!(
        run(ConflictRule::Right, newer_left, &l2, &r2).left["firstName"],
        json!("Anna")
    );

    // "unless blank": the preferred side lost its value, so the other side wins.
    let mut l_blank = l;
    l_blank["firstName"] = json!("");
    let p = run(ConflictRule::LeftUnlessBlank, newer_left, &l_blank, &r2);
    assert_eq!(p.left["firstName"], json!("Anna"));
    assert_eq!(
        run(ConflictRule::LeftUnlessBlank, newer_right, &l2, &r2).right["firstName"],
        json!("Annie")
    );
    assert_eq!(
        run(ConflictRule::RightUnlessBlank, newer_left, &l2, &r2).left["firstName"],
        json!("Anna")
    );

    // Review: nothing written, the field waits for a person.
    let p = run(ConflictRule::Review, newer_left, &l2, &r2);
    assert!(p.is_noop());
    assert_eq!(p.review, ["firstName"]);
    assert_eq!(p.conflicts[0].winner, None);

    // Both changed to the same value: no conflict.
    let mut r_same = r;
    r_same["firstName"] = json!("Annie");
    let p = run(ConflictRule::Review, newer_left, &l2, &r_same);
    assert!(p.is_noop() && p.conflicts.is_empty(), "{p:?}");
}

#[test]
fn blanks_are_ignored_or_cleared_by_policy() {
    let (l, r, shadow) = synced();
    let mut l2 = l;
    l2["source"] = json!(null);
    let spec = recipe();
    let p = sync::plan(&spec, &l2, &r, Some(&shadow), Versions::default());
    assert!(p.is_noop());
    assert!(
        p.skipped
            .iter()
            .any(|(f, why)| f == "source" && why.contains("not cleared")),
        "{:?}",
        p.skipped
    );
    let mut clearing = recipe();
    for f in &mut clearing.fields {
        f.blank = sync::BlankPolicy::Clear;
    }
    let p = sync::plan(&clearing, &l2, &r, Some(&shadow), Versions::default());
    assert_eq!(p.right.get("source"), Some(&Value::Null));
}

#[test]
fn tags_are_a_set_and_never_ping_pong() {
    let spec = recipe();
    let (l, r, shadow) = synced();
    let mut l2 = l;
    l2["tags"] = json!(["buyer", "hot"]);
    let mut r2 = r;
    r2["tags"] = json!([{"tagName": "Buyer "}, {"tagName": "investor"}]);
    let p = sync::plan(&spec, &l2, &r2, Some(&shadow), Versions::default());
    let (l3, r3) = apply(&p, &l2, &r2);
    assert_eq!(l3["tags"], json!(["buyer", "hot", "Buyer", "investor"]));
    let again = sync::plan(&spec, &l3, &r3, Some(&p.shadow), Versions::default());
    assert!(again.is_noop(), "{again:?}");
}

#[test]
fn a_transform_failing_by_policy_skips_the_field_or_fails_the_record() {
    let spec = recipe();
    let mut bad = lead();
    bad["phones"] = json!(["12"]);
    let p = sync::plan(&spec, &Value::Null, &bad, None, Versions::default());
    assert!(!p.left.contains_key("phone"));
    assert!(
        p.skipped
            .iter()
            .any(|(f, why)| f == "phone" && why.contains("phone_e164")),
        "{:?}",
        p.skipped
    );
    assert!(p.failed.is_none());
    let text = sync::recipes::source("lofty-ghl-contacts")
        .unwrap()
        .replace(
            "inverse = [{ fn = \"phone_e164\", region = \"US\" }]",
            "inverse = [{ fn = \"phone_e164\", region = \"US\", on_error = \"fail\" }]",
        );
    let strict = SyncFile::load("s.toml", &text, &Registry::default()).unwrap();
    let p = sync::plan(&strict, &Value::Null, &bad, None, Versions::default());
    assert!(
        p.failed.as_deref().unwrap().contains("field `phone`"),
        "{p:?}"
    );
}

#[test]
fn matching_uses_normalised_keys_in_order() {
    let spec = recipe();
    let mut l = contact();
    l["email"] = json!("  Ann@Example.COM ");
    assert_eq!(
        sync::key_values(&spec, Side::Left, &l),
        [
            ("email".to_owned(), "ann@example.com".to_owned()),
            ("phone".to_owned(), "+14155550123".to_owned())
        ]
    );
    let keys = sync::key_values(&spec, Side::Right, &lead());
    assert_eq!(keys.len(), 3, "both emails and the phone: {keys:?}");
    let c = |key: &str, ids: &[&str]| {
        (
            key.to_owned(),
            ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        sync::decide(&[c("email", &[]), c("phone", &[])]),
        MatchOutcome::None
    );
    assert_eq!(
        sync::decide(&[c("email", &["7", "7"]), c("phone", &["9", "8"])]),
        MatchOutcome::One {
            id: "7".into(),
            key: "email".into()
        }
    );
    assert_eq!(
        sync::decide(&[c("email", &[]), c("phone", &["9", "8"])]),
        MatchOutcome::Ambiguous {
            ids: vec!["8".into(), "9".into()],
            key: "phone".into()
        }
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
        "[+0-9() .-]{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn every_transform() -> Vec<sync::Transform> {
    let specs = json!([
        "trim", "lower", "upper", "title_case", "collapse_spaces", "strip_html",
        {"fn": "truncate", "max": 5}, {"fn": "default", "value": "x"},
        {"fn": "coalesce", "paths": ["a", "b[0]"]}, {"fn": "concat", "paths": ["a"]},
        {"fn": "split", "sep": ","}, {"fn": "split_name", "part": "first"}, {"fn": "join", "sep": ","},
        {"fn": "phone_e164", "region": "US"}, {"fn": "phone_national", "region": "US"},
        "email_normalise", "parse_date", {"fn": "format_date", "format": "%Y-%m-%d"},
        {"fn": "to_timezone", "tz": "Europe/Paris"}, "to_number", "to_text", "to_bool",
        {"fn": "lookup", "table": "t"}, {"fn": "regex_replace", "pattern": "a+", "with": "b"},
        {"fn": "regex_extract", "pattern": "(\\d+)"}, {"fn": "set_add", "values": ["x"]},
        {"fn": "set_remove", "values": ["x"]}, {"fn": "set_union", "path": "a"},
        {"fn": "expr", "expr": "(value ~ '!') | trim"}
    ]);
    let mut tables = sync::transform::Tables::new();
    tables.insert(
        "t".into(),
        [("a".to_owned(), json!("A"))].into_iter().collect(),
    );
    let specs: Vec<sync::TransformSpec> = serde_json::from_value(specs).unwrap();
    let out: Vec<_> = specs
        .iter()
        .map(|s| sync::Transform::compile(s, &tables).unwrap().0)
        .collect();
    assert_eq!(
        out.len(),
        sync::transform::BUILTINS.len(),
        "one of each built-in"
    );
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("tests/proptest-regressions/sync.txt"),
        )),
        ..ProptestConfig::default()
    })]

    /// No transform panics on any JSON.
    #[test]
    fn no_transform_panics(v in arb_json(), record in arb_json()) {
        for t in every_transform() {
            let _ = t.apply(v.clone(), &record);
        }
    }

    /// A normaliser maps back to the same canonical form; an exact pair gives the
    /// value back: forward(inverse(forward(x))) == forward(x).
    #[test]
    fn forward_inverse_forward_is_forward(v in arb_json()) {
        for t in every_transform() {
            let inverse = match t.inverse() {
                sync::transform::Inverse::Lossy => continue,
                sync::transform::Inverse::Normaliser => None,
                sync::transform::Inverse::Exact(i) => Some(i),
            };
            // to_text and to_number are a pair for numbers: text that merely looks
            // like one ("+0") does not come back as written.
            if t.name() == "to_text" && !v.is_number() {
                continue;
            }
            let Ok(once) = t.apply(v.clone(), &Value::Null) else { continue };
            let back = match &inverse {
                Some(i) => match i.apply(once.clone(), &Value::Null) { Ok(b) => b, Err(_) => continue },
                None => once.clone(),
            };
            let twice = t.apply(back, &Value::Null);
            prop_assert!(twice.as_ref().is_ok_and(|x| sync::value::same(x, &once, false)),
                "{}: {v} -> {once} -> {twice:?}", t.name());
        }
    }

    /// No pair of records makes the planner panic, and its plan, applied, is stable:
    /// planning again against the new shadow writes nothing.
    #[test]
    fn plans_never_panic_and_settle(l in arb_json(), r in arb_json()) {
        let spec = recipe();
        let p = sync::plan(&spec, &l, &r, None, Versions::default());
        let (l2, r2) = apply(&p, &l, &r);
        let again = sync::plan(&spec, &l2, &r2, Some(&p.shadow), Versions::default());
        prop_assert!(again.is_noop(), "{l} / {r}: {:?} then {:?}", p, again);
    }
}

#[test]
fn an_expression_field_is_one_way_unless_it_has_an_inverse() {
    let base = sync::recipes::source("lofty-ghl-contacts").unwrap();
    let extra = "\n[[field]]\nname = \"display\"\nleft = \"name\"\nright = \"source\"\nexpr = \"(record.firstName ~ ' ' ~ record.lastName) | trim\"\n";
    let two_way = format!("{base}{extra}");
    let err = SyncFile::load("e.toml", &two_way, &Registry::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("field `display` is two-way but `expr` cannot be undone"),
        "{err}"
    );
    let one_way = format!("{base}{extra}direction = \"to_right\"\n");
    let spec = SyncFile::load("e.toml", &one_way, &Registry::default()).unwrap();
    let p = sync::plan(
        &spec,
        &json!({"firstName": "Ann", "lastName": "Lee"}),
        &Value::Null,
        None,
        Versions::default(),
    );
    assert_eq!(p.right["source"], json!("Ann Lee"));
    let bad = format!("{base}{extra}direction = \"to_right\"\n").replace("| trim\"", "|\"");
    let err = SyncFile::load("e.toml", &bad, &Registry::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not an expression"), "{err}");
}

/// The recipe as enabled between two accounts with these custom fields.
fn with_accounts(extra: &str) -> Result<SyncSpec, sync::SyncFileError> {
    let text = format!(
        "{}{extra}\n[accounts]\nleft = [{{ key = \"contact.pincode\", select = \"f1\" }}, {{ key = \"contact.lead_score\", select = \"f2\" }}, {{ key = \"contact.ghl_only\", select = \"f3\" }}]\nright = [{{ key = \"Pincode\", select = \"Pincode\" }}, {{ key = \"Lead Score\", select = \"Lead Score\" }}, {{ key = \"Lofty Only\", select = \"Lofty Only\" }}]\n",
        sync::recipes::source("lofty-ghl-contacts").unwrap()
    );
    SyncFile::load("lofty-ghl-contacts.toml", &text, &Registry::default())
}

#[test]
fn custom_fields_pair_by_key_and_sync_both_ways() {
    assert_eq!(sync::custom_key("contact.lead_score"), "lead_score");
    assert_eq!(sync::custom_key("Lead Score"), "lead_score");
    assert_eq!(sync::custom_key("  Pin-Code "), "pin_code");
    // Without [accounts] (not enabled yet) the recipe has no custom field rules.
    assert!(
        !recipe()
            .fields
            .iter()
            .any(|f| f.name.starts_with("custom."))
    );
    let spec = with_accounts("").unwrap();
    let custom: Vec<(&str, String, String)> = spec
        .fields
        .iter()
        .filter(|f| f.name.starts_with("custom."))
        .map(|f| (f.name.as_str(), f.left.to_string(), f.right.to_string()))
        .collect();
    assert_eq!(
        custom,
        vec![
            (
                "custom.pincode",
                "customFields[id=f1].value".to_owned(),
                "customAttributes[attributeName=Pincode].value".to_owned()
            ),
            (
                "custom.lead_score",
                "customFields[id=f2].value".to_owned(),
                "customAttributes[attributeName=Lead Score].value".to_owned()
            ),
        ],
        "fields only one account has are not paired"
    );
    // A GHL contact's value reaches the lead, and the lead's change comes back.
    let c = json!({"id": "c1", "email": "ann@example.com", "customFields": [{"id": "f1", "value": "73001"}]});
    let l = json!({"leadId": 7, "emails": ["ann@example.com"], "customAttributes": [{"attributeName": "Lead Score", "value": "42"}]});
    let p = sync::plan(&spec, &c, &l, None, Versions::default());
    let (c2, l2) = apply(&p, &c, &l);
    assert_eq!(
        l2["customAttributes"],
        json!([{"attributeName": "Lead Score", "value": "42"}, {"attributeName": "Pincode", "value": "73001"}])
    );
    assert_eq!(
        c2["customFields"],
        json!([{"id": "f1", "value": "73001"}, {"id": "f2", "value": "42"}])
    );
    let again = sync::plan(&spec, &c2, &l2, Some(&p.shadow), Versions::default());
    assert!(
        again.left.is_empty() && again.right.is_empty(),
        "in sync: {again:?}"
    );
}

#[test]
fn a_custom_field_named_by_key_is_resolved_from_the_account() {
    let field = "\n[[field]]\nname = \"pin\"\nleft = \"customFields[key=contact.pincode].value\"\nright = \"customAttributes[attributeName=Pincode].value\"\n";
    let spec = with_accounts(field).unwrap();
    let pin = spec.fields.iter().find(|f| f.name == "pin").unwrap();
    assert_eq!(pin.left.to_string(), "customFields[id=f1].value");
    assert!(
        !spec.fields.iter().any(|f| f.name == "custom.pincode"),
        "a field mapped by hand is not paired twice"
    );
    // A key the account lacks names the keys it has, and the fix.
    let bad = field.replace("contact.pincode", "contact.nope");
    let e = with_accounts(&bad).unwrap_err();
    assert!(
        e.message
            .contains("no custom field with key `contact.nope`")
            && e.message.contains("contact.lead_score")
            && e.message.contains("enable the flow again"),
        "{e}"
    );
    // Before enabling, a key cannot be resolved: the error says how.
    let text = format!(
        "{}{field}",
        sync::recipes::source("lofty-ghl-contacts").unwrap()
    );
    let e = SyncFile::load("f.toml", &text, &Registry::default()).unwrap_err();
    assert!(e.message.contains("ghlsync flows enable"), "{e}");
}

#[test]
fn equal_values_that_cannot_be_mapped_are_in_sync_not_a_conflict() {
    // +1 555 100 0009 is not a valid US number: phone_e164 cannot map it, but both
    // sides hold the same text.
    let spec = recipe();
    let c = json!({"id": "c1", "email": "e@example.com", "phone": "+15551000009"});
    let l = json!({"leadId": 7, "emails": ["e@example.com"], "phones": ["+15551000009"]});
    let p = sync::plan(&spec, &c, &l, None, Versions::default());
    let phone = spec.fields.iter().find(|f| f.name == "phone").unwrap();
    let back = phone
        .toward(Side::Right)
        .unwrap()
        .apply(json!("+15551000009"), &l);
    assert!(
        p.conflicts.is_empty(),
        "{:?} (phone to GHL: {back:?})",
        p.conflicts
    );
    assert!(p.left.is_empty() && p.right.is_empty(), "{p:?}");
}
