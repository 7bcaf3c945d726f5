//! Parser and checker tests of the personal-data field attributes, on `parse_quote!` inputs.

use super::*;
use syn::parse_quote;

fn errors(input: DeriveInput) -> String {
    let cx = Ctxt::new();
    let p = Personal::from_syn(&cx, &input);
    check(&cx, &p);
    cx.check().err().map(|e| e.to_compile_error().to_string()).unwrap_or_default()
}

#[test]
fn reads_subject_personal_fields_and_their_keys() {
    let input: DeriveInput = parse_quote! {
        struct E {
            #[event(subject)] customer: String,
            #[event(personal)] #[serde(rename = "n")] name: String,
            #[event(personal, erased = 0)] age: u8,
            other: u8,
        }
    };
    let cx = Ctxt::new();
    let p = Personal::from_syn(&cx, &input);
    check(&cx, &p);
    assert!(cx.check().is_ok());
    assert_eq!(p.subjects[0].key, "customer");
    assert_eq!(p.fields.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(), ["n", "age"]);
    assert!(p.fields[1].erased.is_some());
}

#[test]
fn reads_former_keys_of_personal_fields() {
    let input: DeriveInput = parse_quote! {
        struct E {
            #[event(subject)] customer: String,
            #[event(personal, renamed_from = "phone", renamed_from = "tel")] mobile: String,
        }
    };
    let cx = Ctxt::new();
    let p = Personal::from_syn(&cx, &input);
    check(&cx, &p);
    check_renamed_from(&cx, &p);
    assert!(cx.check().is_ok());
    let old: Vec<String> = p.fields[0].renamed_from.iter().map(|s| s.value()).collect();
    assert_eq!(old, ["phone", "tel"]);
    let renamed = renamed(&p).to_string();
    assert!(renamed.contains("key : \"mobile\"") && renamed.contains("\"phone\" , \"tel\""), "{renamed}");
}

#[test]
fn reports_misused_former_keys() {
    let errors = |input: DeriveInput| {
        let cx = Ctxt::new();
        let p = Personal::from_syn(&cx, &input);
        check_renamed_from(&cx, &p);
        cx.check().err().map(|e| e.to_compile_error().to_string()).unwrap_or_default()
    };
    let e = errors(
        parse_quote! { struct E { #[event(subject)] a: String, #[event(renamed_from = "x")] n: String } },
    );
    assert!(e.contains("belongs to a personal field"), "{e}");
    let e = errors(parse_quote! { struct E { #[event(subject, renamed_from = "x")] a: String } });
    assert!(e.contains("belongs to a personal field"), "{e}");
    let e = errors(parse_quote! { struct E { #[event(personal, renamed_from = "")] n: String } });
    assert!(e.contains("cannot be empty"), "{e}");
    let e = errors(parse_quote! { struct E { #[event(personal, renamed_from = "n")] n: String } });
    assert!(e.contains("the field's current key"), "{e}");
    let e = errors(
        parse_quote! { struct E { #[event(personal, renamed_from = "o", renamed_from = "o")] n: String } },
    );
    assert!(e.contains("duplicate #[event(personal, renamed_from"), "{e}");
    let e = errors(
        parse_quote! { struct E { #[event(personal, renamed_from = "p")] n: String, #[serde(rename = "p")] q: u8 } },
    );
    assert!(e.contains("the key of another field"), "{e}");
    let e = errors(
        parse_quote! { struct E { #[event(personal, renamed_from = "o")] n: String, #[event(personal, renamed_from = "o")] m: String } },
    );
    assert!(e.contains("already a former key of `n`"), "{e}");
    let e = errors(parse_quote! { struct E { #[event(personal)] #[serde(alias = "o")] n: String } });
    assert!(e.contains("renamed_from"), "{e}");
}

#[test]
fn reports_every_misuse() {
    let e = errors(parse_quote! { struct E { #[event(personal)] name: String } });
    assert!(e.contains("personal data needs a subject"), "{e}");
    let e = errors(parse_quote! { struct E { #[event(subject)] id: u64, #[event(personal)] n: String } });
    assert!(e.contains("must be a `String` or a `Uuid`"), "{e}");
    let e = errors(
        parse_quote! { struct E { #[event(subject)] a: String, #[event(subject)] b: String, #[event(personal)] n: String } },
    );
    assert!(e.contains("an event has one subject"), "{e}");
    let e = errors(parse_quote! { struct E { #[event(erased = 1)] n: u8 } });
    assert!(e.contains("`erased = ..` belongs to a personal field"), "{e}");
    let e = errors(parse_quote! { struct E(#[event(personal)] String); });
    assert!(e.contains("needs named fields"), "{e}");
    let e = errors(
        parse_quote! { #[serde(rename_all = "camelCase")] struct E { #[event(subject)] a: String, #[event(personal)] n: String } },
    );
    assert!(e.contains("cannot use #[serde(rename_all)]"), "{e}");
    let e = errors(
        parse_quote! { struct E { #[event(subject)] a: String, #[event(personal)] #[serde(flatten)] n: String } },
    );
    assert!(e.contains("cannot take this serde attribute"), "{e}");
    let e = errors(parse_quote! { struct E { #[event(subject)] a: String } });
    assert!(e.contains("a subject without personal data"), "{e}");
    let e = errors(parse_quote! { struct E { #[event(subjct)] a: String } });
    assert!(e.contains("did you mean `subject`"), "{e}");
}
