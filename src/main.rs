//! The `coallab` command: builds and runs the application from the library.

fn main() -> std::process::ExitCode {
    coallab::cli::main()
}
