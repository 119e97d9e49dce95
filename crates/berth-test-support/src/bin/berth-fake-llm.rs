//! `berth-fake-llm`: a stand-in model provider on loopback for benchmarks, demos and manual
//! tests. It speaks the Anthropic Messages and OpenAI Chat Completions streaming formats and
//! answers every request at once with `echo: <last user text>`. Point Berth at it with
//! `ANTHROPIC_BASE_URL=http://ADDR` (or `OPENAI_BASE_URL=http://ADDR/v1`) and any key.

use clap::Parser;

#[derive(Parser)]
#[command(name = "berth-fake-llm", about = "A fake model provider for Berth")]
struct Cli {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8788")]
    listen: std::net::SocketAddr,
}

#[allow(clippy::print_stderr)]
fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if !cli.listen.ip().is_loopback() {
        eprintln!("berth-fake-llm only listens on loopback addresses");
        return std::process::ExitCode::FAILURE;
    }
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        eprintln!("cannot start the async runtime");
        return std::process::ExitCode::FAILURE;
    };
    let result: Result<(), std::io::Error> = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(cli.listen).await?;
        eprintln!(
            "berth-fake-llm listening on http://{}",
            listener.local_addr()?
        );
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, berth_test_support::fake_model_router()).await
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-fake-llm: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
