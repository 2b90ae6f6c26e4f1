//! A checker of the TwiML the voice webhooks answer, independent of the engine: the
//! document is parsed as XML, its root must be `<Response>`, and every verb and noun
//! must be one Twilio documents, where Twilio allows it (a noun inside its verb), with
//! only the attributes Twilio documents for it. A test reads the checked document's
//! elements back as (path, attributes, text) rows.

use std::collections::BTreeMap;

/// Where each TwiML element may appear and which attributes it takes (Twilio's
/// TwiML reference for Programmable Voice).
fn rule(name: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    const VERBS: &[&str] = &["Response"];
    Some(match name {
        "Say" => (&["Response", "Gather"], &["voice", "language", "loop"]),
        "Play" => (&["Response", "Gather"], &["loop", "digits"]),
        "Pause" => (&["Response", "Gather"], &["length"]),
        "Hangup" => (VERBS, &[]),
        "Reject" => (VERBS, &["reason"]),
        "Leave" => (VERBS, &[]),
        "Redirect" => (VERBS, &["method"]),
        "Gather" => (
            VERBS,
            &[
                "action",
                "method",
                "input",
                "timeout",
                "numDigits",
                "finishOnKey",
                "language",
                "speechTimeout",
                "hints",
                "actionOnEmptyResult",
                "speechModel",
                "profanityFilter",
                "enhanced",
                "partialResultCallback",
                "partialResultCallbackMethod",
            ],
        ),
        "Enqueue" => (
            VERBS,
            &[
                "action",
                "method",
                "waitUrl",
                "waitUrlMethod",
                "workflowSid",
                "maxQueueSize",
            ],
        ),
        "Dial" => (
            VERBS,
            &[
                "action",
                "method",
                "timeout",
                "callerId",
                "record",
                "hangupOnStar",
                "timeLimit",
                "answerOnBridge",
                "ringTone",
                "recordingStatusCallback",
                "recordingStatusCallbackMethod",
                "recordingStatusCallbackEvent",
                "trim",
            ],
        ),
        "Number" => (
            &["Dial"],
            &[
                "sendDigits",
                "url",
                "method",
                "statusCallback",
                "statusCallbackEvent",
                "statusCallbackMethod",
            ],
        ),
        "Client" => (
            &["Dial"],
            &[
                "url",
                "method",
                "statusCallback",
                "statusCallbackEvent",
                "statusCallbackMethod",
            ],
        ),
        "Conference" => (
            &["Dial"],
            &[
                "muted",
                "beep",
                "startConferenceOnEnter",
                "endConferenceOnExit",
                "waitUrl",
                "waitMethod",
                "maxParticipants",
                "record",
                "region",
                "trim",
                "coach",
                "statusCallback",
                "statusCallbackEvent",
                "statusCallbackMethod",
                "recordingStatusCallback",
                "recordingStatusCallbackMethod",
                "recordingStatusCallbackEvent",
                "eventCallbackUrl",
                "jitterBufferSize",
                "participantLabel",
            ],
        ),
        "Queue" => (
            &["Dial"],
            &["url", "method", "reservationSid", "postWorkActivitySid"],
        ),
        _ => return None,
    })
}

/// One element of a checked document: its path from the root (`Response/Dial/Queue`),
/// its attributes and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub path: String,
    pub attrs: BTreeMap<String, String>,
    pub text: String,
}

/// Parses and checks `xml`; panics naming what Twilio would refuse. Returns the
/// elements below `<Response>` in document order.
pub fn check(xml: &str) -> Vec<Element> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML ({e}): {xml}"));
    let root = doc.root_element();
    assert_eq!(
        root.tag_name().name(),
        "Response",
        "the root is <Response>: {xml}"
    );
    assert!(
        root.attributes().next().is_none(),
        "<Response> takes no attributes: {xml}"
    );
    let mut out = Vec::new();
    walk(root, "Response", xml, &mut out);
    out
}

fn walk(node: roxmltree::Node, path: &str, xml: &str, out: &mut Vec<Element>) {
    for child in node.children() {
        if child.is_text() {
            continue;
        }
        if !child.is_element() {
            continue;
        }
        let name = child.tag_name().name();
        let (parents, attrs) =
            rule(name).unwrap_or_else(|| panic!("<{name}> is not a TwiML voice verb: {xml}"));
        let parent = node.tag_name().name();
        assert!(
            parents.contains(&parent),
            "<{name}> cannot be inside <{parent}>: {xml}"
        );
        let mut a = BTreeMap::new();
        for at in child.attributes() {
            assert!(
                attrs.contains(&at.name()),
                "<{name}> has no attribute {}: {xml}",
                at.name()
            );
            a.insert(at.name().to_owned(), at.value().to_owned());
        }
        let here = format!("{path}/{name}");
        out.push(Element {
            path: here.clone(),
            attrs: a,
            text: child
                .children()
                .filter(|c| c.is_text())
                .filter_map(|c| c.text())
                .collect::<String>()
                .trim()
                .to_owned(),
        });
        walk(child, &here, xml, out);
    }
}

#[test]
fn the_checker_refuses_what_twilio_refuses() {
    let ok = check("<?xml version=\"1.0\"?><Response><Dial><Queue>q</Queue></Dial></Response>");
    assert_eq!(ok[1].path, "Response/Dial/Queue");
    assert_eq!(ok[1].text, "q");
    for bad in [
        "<Response><Queue>q</Queue></Response>",
        "<Response><Dial foo=\"1\"><Queue>q</Queue></Dial></Response>",
        "<Reply><Hangup/></Reply>",
        "<Response><Dial><Queue>q</Dial></Response>",
    ] {
        assert!(
            std::panic::catch_unwind(|| check(bad)).is_err(),
            "{bad} accepted"
        );
    }
}
