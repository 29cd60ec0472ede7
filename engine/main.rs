fn main() -> std::process::ExitCode {
    eng_intel::cli::main()
}
