//! Unit tests of the tree model: validation errors, key and speech choice, positions.

use super::*;

fn q(name: &str) -> QueueName {
    QueueName::parse(name).unwrap()
}

fn opt(key: char, label: &str, phrases: &[&str], action: Action) -> MenuOption {
    MenuOption {
        key: Some(key),
        phrases: phrases.iter().map(|s| s.to_string()).collect(),
        label: Text::both(label),
        action,
        skills: Default::default(),
    }
}

fn menu(id: &str, options: Vec<MenuOption>) -> Menu {
    Menu {
        id: id.into(),
        prompt: Text {
            ja: format!("{id}のメニューです"),
            en: format!("{id} menu"),
        },
        options,
    }
}

fn sample() -> (Tree, IvrSettings) {
    let menus = vec![
        menu(
            "main",
            vec![
                opt(
                    '1',
                    "ご注文",
                    &["注文", "order"],
                    Action::Menu("orders".into()),
                ),
                opt('2', "その他", &["other"], Action::Queue(q("general"))),
            ],
        ),
        menu(
            "orders",
            vec![
                opt(
                    '1',
                    "配送状況",
                    &["配送", "delivery"],
                    Action::Queue(q("orders")),
                ),
                opt(
                    '2',
                    "返品",
                    &["返品", "return"],
                    Action::Article("returns-policy".into()),
                ),
                opt(
                    '3',
                    "折り返し",
                    &["折り返し", "callback"],
                    Action::Callback(Some(q("orders"))),
                ),
                opt('9', "戻る", &["戻る", "back"], Action::Back),
            ],
        ),
    ];
    let s = IvrSettings {
        root: "main".into(),
        menus: menus.clone(),
        ..Default::default()
    };
    (
        Tree {
            root: "main".into(),
            menus,
        },
        s,
    )
}

#[test]
fn a_good_tree_validates() {
    let (t, s) = sample();
    t.validate(&s).unwrap();
    assert_eq!(
        t.articles().into_iter().collect::<Vec<_>>(),
        ["returns-policy"]
    );
    assert_eq!(t.queues().len(), 2);
}

#[test]
fn config_errors_are_clear() {
    let (t, s) = sample();
    let check = |f: &dyn Fn(&mut Tree, &mut IvrSettings), needle: &str| {
        let (mut t, mut s) = (t.clone(), s.clone());
        f(&mut t, &mut s);
        let e = t.validate(&s).unwrap_err();
        assert!(e.contains(needle), "{e:?} should mention {needle:?}");
    };
    check(
        &|t, _| t.menus[0].options[0].action = Action::Menu("nowhere".into()),
        "unknown menu nowhere",
    );
    check(
        &|t, _| t.menus[1].options[1].key = Some('1'),
        "key 1 is used twice",
    );
    check(
        &|t, _| t.menus[1].options[1].key = Some('x'),
        "not a telephone key",
    );
    check(&|t, _| t.root = "missing".into(), "root menu");
    check(&|t, _| t.menus[1].id = "main".into(), "defined twice");
    check(&|t, _| t.menus[1].id = "Bad Id".into(), "must be 1-32");
    check(&|_, s| s.max_menus = 1, "ivr.max_menus");
    check(&|_, s| s.max_options = 3, "ivr.max_options");
    check(&|_, s| s.max_depth = 1, "ivr.max_depth");
    check(
        &|_, s| s.default_action = Some(Action::Repeat),
        "default_action",
    );
    check(
        &|t, _| t.menus[1].options[0].phrases.push("。".into()),
        "empty or too long phrase",
    );
    // A menu nobody reaches.
    check(
        &|t, _| {
            t.menus.push(menu(
                "lost",
                vec![opt('1', "x", &[], Action::Queue(q("general")))],
            ))
        },
        "cannot be reached",
    );
    // A cycle with no exit: a <-> b, reachable from the root.
    check(
        &|t, _| {
            t.menus[0]
                .options
                .push(opt('3', "loop", &[], Action::Menu("a".into())));
            t.menus.push(menu(
                "a",
                vec![opt('1', "b", &[], Action::Menu("b".into()))],
            ));
            t.menus.push(menu(
                "b",
                vec![
                    opt('1', "a", &[], Action::Menu("a".into())),
                    opt('2', "back", &[], Action::Back),
                ],
            ));
        },
        "cycle without an exit",
    );
    let billing = |p: u8| {
        let skill = domain::Skill::parse("billing").unwrap();
        domain::SkillFloors::from([(skill, domain::Proficiency::new(p).unwrap())])
    };
    // Skills on an option that reaches no queue.
    check(
        &|t, _| t.menus[1].options[1].skills = billing(2),
        "requires skills but does not reach a queue",
    );
    check(
        &|t, _| {
            t.menus[0].options[1].skills = (0..17)
                .map(|i| {
                    let skill = domain::Skill::parse(&format!("s{i}")).unwrap();
                    (skill, domain::Proficiency::new(1).unwrap())
                })
                .collect()
        },
        "requires more than 16 skills",
    );
    // Two chat options for one queue that need different skills.
    check(
        &|t, _| {
            let mut a = opt('4', "chat", &[], Action::Chat(q("general")));
            a.skills = billing(2);
            let mut b = opt('5', "chat", &[], Action::Chat(q("general")));
            b.skills = billing(3);
            t.menus[0].options.extend([a, b]);
        },
        "two chat options open queue general with different skills",
    );
}

#[test]
fn a_cycle_with_an_exit_is_fine() {
    let (mut t, s) = sample();
    t.menus[1]
        .options
        .push(opt('0', "最初から", &[], Action::Menu("main".into())));
    t.validate(&s).unwrap();
}

#[test]
fn keys_and_speech_choose_options() {
    let (t, _) = sample();
    let orders = t.menu("orders").unwrap();
    assert_eq!(orders.choose(Some("2"), None).unwrap().label.ja, "返品");
    assert!(orders.choose(Some("7"), None).is_none());
    assert!(orders.choose(Some("12"), None).is_none());
    // Speech, Japanese and English, width/case-insensitive.
    assert_eq!(
        orders
            .choose(None, Some("配送の状況を知りたい"))
            .unwrap()
            .label
            .ja,
        "配送状況"
    );
    assert_eq!(
        orders
            .choose(None, Some("ＲＥＴＵＲＮ please"))
            .unwrap()
            .label
            .ja,
        "返品"
    );
    assert_eq!(
        orders.choose(None, Some("オリカエシ")).map(|o| &o.action),
        None
    );
    assert_eq!(
        orders
            .choose(None, Some("折り返しでお願いします"))
            .unwrap()
            .action,
        Action::Callback(Some(q("orders")))
    );
    assert!(orders.choose(None, Some("weather")).is_none());
    assert!(orders.choose(None, None).is_none());
}

#[test]
fn positions_round_trip_and_refuse_forged_paths() {
    let (t, _) = sample();
    let root = Position::root(&t);
    let p = root.enter("orders");
    assert_eq!(p.encode(), "main.orders");
    assert_eq!(Position::parse(&t, "main.orders"), Some(p.clone()));
    assert_eq!(p.back(), root);
    assert_eq!(root.back(), root);
    assert_eq!(p.enter("main"), root);
    assert!(Position::parse(&t, "orders").is_none());
    assert!(Position::parse(&t, "main.nowhere").is_none());
    assert!(Position::parse(&t, "main.main").is_none());
}

#[test]
fn the_flat_voice_menu_is_a_one_level_tree() {
    let greeting = "お電話ありがとうございます。";
    let flat = |options| FlatMenu { greeting, options };
    assert!(Tree::from_settings(&IvrSettings::default(), flat(&[])).is_none());
    let options = [
        IvrOption {
            digit: '1',
            label: "ご注文".into(),
            queue: Some(q("orders")),
            callback: false,
        },
        IvrOption {
            digit: '2',
            label: "折り返し".into(),
            queue: None,
            callback: true,
        },
    ];
    let v = flat(&options);
    let t = Tree::from_settings(&IvrSettings::default(), v).unwrap();
    t.validate(&IvrSettings::default()).unwrap();
    let m = t.menu(LEGACY_ROOT).unwrap();
    assert_eq!(
        m.choose(Some("2"), None).unwrap().action,
        Action::Callback(None)
    );
    validate_settings(&IvrSettings::default(), v, &[]).unwrap();
    let no_root = IvrSettings {
        menus: t.menus.clone(),
        ..Default::default()
    };
    assert!(validate_settings(&no_root, v, &[])
        .unwrap_err()
        .contains("ivr.root"));
}

#[test]
fn toml_shape() {
    let s: IvrSettings = toml::from_str(
        r#"
root = "main"
[[menus]]
id = "main"
prompt = { ja = "ご用件をどうぞ", en = "How can we help?" }
[[menus.options]]
key = "1"
phrases = ["注文", "order"]
label = { ja = "ご注文", en = "Orders" }
action = { queue = "orders" }
[[menus.options]]
key = "2"
label = { ja = "返品", en = "Returns" }
action = { article = "returns-policy" }
[[menus.options]]
key = "0"
label = { ja = "もう一度", en = "Repeat" }
action = "repeat"
"#,
    )
    .unwrap();
    assert_eq!(s.menus[0].options[0].action, Action::Queue(q("orders")));
    assert_eq!(s.menus[0].options[2].action, Action::Repeat);
    validate_settings(
        &s,
        FlatMenu {
            greeting: "",
            options: &[],
        },
        &[],
    )
    .unwrap();
}

#[test]
fn a_reported_path_is_checked_for_shape() {
    let path = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(check_reported_path(&[]).is_ok());
    assert!(check_reported_path(&path(&["main", "orders-2", "a_b"])).is_ok());
    let e = check_reported_path(&path(&["main", "Orders"])).unwrap_err();
    assert!(e.contains("\"Orders\""), "{e}");
    assert!(check_reported_path(&path(&[""])).is_err());
    assert!(check_reported_path(&path(&[&"x".repeat(33)])).is_err());
    assert!(check_reported_path(&vec!["m".to_owned(); MAX_REPORTED_PATH]).is_ok());
    let e = check_reported_path(&vec!["m".to_owned(); MAX_REPORTED_PATH + 1]).unwrap_err();
    assert!(e.contains("17 menus"), "{e}");
}

#[test]
fn check_all_names_every_wrong_field_at_once() {
    let (mut t, s) = sample();
    assert!(t.check_all(&s).is_empty());
    t.menus[0].options[0].label.en = " ".into();
    t.menus[1].options[1].key = Some('1');
    t.menus[1].options[0].action = Action::Article("Bad Id".into());
    t.menus[1].options[0].phrases = vec!["  ".into()];
    let paths: Vec<String> = t.check_all(&s).into_iter().map(|e| e.path).collect();
    assert_eq!(
        paths,
        [
            "menus[0].options[0].label",
            "menus[1].options[0].phrases",
            "menus[1].options[0].action",
            "menus[1].options[1].key",
        ]
    );
    // The first is what `check` and `validate` report.
    assert_eq!(t.check(&s).unwrap_err().path, "menus[0].options[0].label");
    // Reachability waits for sound ids: a duplicate id is reported, not an
    // unreachable menu on top of it.
    let (mut t, s) = sample();
    t.menus[1].id = "main".into();
    let paths: Vec<String> = t.check_all(&s).into_iter().map(|e| e.path).collect();
    assert_eq!(paths, ["menus[1].id", "menus[0].options[0].action"]);
}
