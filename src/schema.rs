//! OpenAPI schemas of the lower crates' types, which do not derive utoipa's traits
//! (utoipa is the server's dependency only): for the handlers'
//! `#[schema(value_type = X, inline)]` and `#[param(value_type = X, inline)]`, each `X`
//! is a marker type whose schema is built from the real type's values, so a renamed or
//! added value shows up in the document. Below every module that documents a type
//! (`kb`, `api`).

use crate::domain::{Channel, RequestedStatus, Role};
use serde::Serialize;
use utoipa::openapi::{Object, ObjectBuilder, RefOr, Schema, Type};

/// A string schema whose values are what `values` serialize to (so serde renames are
/// followed).
pub fn string_enum<T: Serialize>(values: &[T]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            values
                .iter()
                .filter_map(|v| serde_json::to_value(v).ok())
                .collect::<Vec<_>>(),
        ))
        .build()
}

/// Declares marker types: `Name => schema expression`.
macro_rules! markers {
    ($($(#[$doc:meta])* $name:ident => $schema:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl utoipa::ToSchema for $name {}
    )*};
}

markers! {
    /// [`Channel`]: `chat`, `sms`, ...
    ChannelName => string_enum(&Channel::ALL);
    /// [`Role`]: `agent`, `supervisor`, `admin`.
    RoleName => string_enum(&[Role::Agent, Role::Supervisor, Role::Admin]);
    /// [`RequestedStatus`]: `available`, `away`.
    StatusName => string_enum(&[RequestedStatus::Available, RequestedStatus::Away]);
    /// Report bucket widths ([`crate::reports::Interval`]).
    IntervalName => string_enum(&crate::reports::Interval::ALL);
    /// Report groupings ([`crate::reports::GroupBy`]).
    GroupName => {
        use crate::reports::GroupBy;
        string_enum(&[GroupBy::Queue, GroupBy::Channel, GroupBy::Agent, GroupBy::Difficulty])
    };
    /// A report's encoding.
    FormatName => string_enum(&["json", "csv"]);
    /// What a callback dial came to ([`crate::ivr::callbacks::Outcome`]).
    OutcomeName => {
        use crate::ivr::callbacks::Outcome;
        string_enum(&[Outcome::Reached, Outcome::NoAnswer, Outcome::Busy])
    };
    /// Knowledge-base and canned-response languages ([`switchboard_engine::articles::LANGUAGES`]).
    LanguageName => string_enum(switchboard_engine::articles::LANGUAGES);
    /// A queue's overflow ([`crate::domain::queue::Overflow`]): `{after_ms, to}`.
    OverflowSetting => ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "after_ms",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1000))
                .maximum(Some(86_400_000)),
        )
        .property("to", ObjectBuilder::new().schema_type(Type::String))
        .required("after_ms")
        .required("to")
        .build();
}
