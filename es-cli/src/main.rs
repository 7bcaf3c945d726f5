//! `es`, on any store, without your types. To add `catalogue` and `rebuild`, call
//! `es_cli::App::new().projection::<P>(name).main()` from a binary of your own.

fn main() -> std::process::ExitCode {
    es_cli::App::new().main()
}
