//! Parser and checker tests of `#[event(tag)]`, on `parse_quote!` inputs.

use super::*;
use syn::parse_quote;

fn parse(input: DeriveInput) -> (Vec<String>, String) {
    let cx = Ctxt::new();
    let tags = Tags::from_syn(&cx, &input);
    let personal = Personal::from_syn(&cx, &input);
    check(&cx, &tags, &personal);
    let keys = tags.fields.iter().map(|t| t.key.value()).collect();
    (keys, cx.check().err().map(|e| e.to_compile_error().to_string()).unwrap_or_default())
}

#[test]
fn reads_keys_from_names_and_given_keys() {
    let (keys, errors) = parse(parse_quote! {
        struct StudentSubscribed {
            #[event(tag)] student: String,
            #[event(tag = "course")] course_id: String,
            #[event(tag)] r#type: u32,
            note: String,
        }
    });
    assert_eq!((keys, errors.as_str()), (vec!["student".into(), "course".into(), "type".into()], ""));
    let (keys, errors) = parse(parse_quote! { struct E(#[event(tag = "course")] String, u32); });
    assert_eq!((keys, errors.as_str()), (vec!["course".into()], ""));
}

#[test]
fn expands_tags_and_their_keys() {
    let input: DeriveInput = parse_quote! { struct E { #[event(tag)] course: String, n: u8 } };
    let cx = Ctxt::new();
    let tags = Tags::from_syn(&cx, &input);
    cx.check().expect("valid");
    let out = expand(&tags).to_string();
    assert!(out.contains("const TAGS : & 'static [& 'static str] = & [\"course\"]"), "{out}");
    assert!(out.contains("tag (\"course\""), "{out}");
    assert!(expand(&Tags::default()).is_empty());
}

#[test]
fn reports_every_misuse() {
    let (_, e) = parse(parse_quote! { struct E(#[event(tag)] String); });
    assert!(e.contains("a tag on a tuple field needs a key"), "{e}");
    let (_, e) =
        parse(parse_quote! { struct E { #[event(tag)] course: String, #[event(tag = "course")] c: String } });
    assert!(e.contains("the tag key `course` is given twice"), "{e}");
    let (_, e) = parse(parse_quote! { struct E { #[event(tag = "")] course: String } });
    assert!(e.contains("a tag key cannot be empty"), "{e}");
    let (_, e) = parse(parse_quote! { struct E { #[event(tag = "a:b")] course: String } });
    assert!(e.contains("cannot hold `:`"), "{e}");
    let (_, e) = parse(parse_quote! { struct E { #[event(tag = 5)] course: String } });
    assert!(e.contains("expected a string literal"), "{e}");
    let (_, e) = parse(parse_quote! {
        struct E { #[event(subject)] who: String, #[event(tag, personal)] email: String }
    });
    assert!(e.contains("a personal field cannot be a tag"), "{e}");
    let (_, e) = parse(parse_quote! {
        struct E { #[event(subject, tag)] who: String, #[event(personal)] email: String }
    });
    assert_eq!(e, "", "a subject is stored in clear: it may be a tag");
    let (_, e) = parse(parse_quote! { struct E { #[event(tagg)] course: String } });
    assert!(e.contains("did you mean `tag`"), "{e}");
}
