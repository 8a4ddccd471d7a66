fn main() {
    std::process::exit(prov::cli::main());
}
