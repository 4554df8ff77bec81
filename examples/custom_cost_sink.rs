//! A cost sink that writes one JSON line per usage record (every attempt, failed
//! ones included), for piping into other tools.
//!
//! The sink never writes on the request path: `record` only sends the line to a
//! writer thread, so a slow disk or pipe never slows a call down.
//!
//! ```text
//! cargo run --example custom_cost_sink > usage.jsonl
//! ```

use std::error::Error;
use std::io::Write;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use elelem::cost::{CostSink, UsageRecord};
use elelem::{ChatRequest, Elelem, Message, ResponseFormat};
use elelem_testkit::{wire, TestServer};

/// Writes each record as one JSON line to standard output, from its own thread.
#[derive(Debug)]
struct JsonLinesSink {
    lines: Mutex<Option<Sender<String>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl JsonLinesSink {
    fn stdout() -> Self {
        let (sender, receiver) = channel::<String>();
        let writer = std::thread::spawn(move || {
            let stdout = std::io::stdout();
            for line in receiver {
                let mut out = stdout.lock();
                if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                    break;
                }
            }
        });
        JsonLinesSink {
            lines: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
        }
    }

    /// Writes what is queued and stops the writer.
    fn close(&self) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.take();
        }
        if let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = writer.join();
        }
    }
}

impl CostSink for JsonLinesSink {
    fn record(&self, record: &UsageRecord) {
        let Ok(line) = serde_json::to_string(record) else {
            return;
        };
        if let Ok(lines) = self.lines.lock() {
            if let Some(sender) = lines.as_ref() {
                let _ = sender.send(line);
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Offline: a test server that fails once with a 502, then answers.
    let server = TestServer::start().await?;
    server.push(wire::server_error(502));
    server.push(
        wire::Completion::new("gpt-4.1-mini", "{\"ok\": true}")
            .usage(42, 7)
            .cached(10),
    );

    let sink = Arc::new(JsonLinesSink::stdout());
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-offline-demo")
        .base_url("openai", server.url())
        .cost_sink(sink.clone())
        .build()?;
    let request = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Say ok in JSON")])
        .response_format(ResponseFormat::JsonObject)
        .tags(["jsonl-demo"]);
    elelem.create_chat_completion(request).await?;
    sink.close();
    Ok(())
}
