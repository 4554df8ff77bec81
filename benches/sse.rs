//! SSE decoding throughput over a recorded-shape stream of 10,000 chunks, fed in
//! network-sized pieces, with and without parsing each chunk.
//!
//! `cargo bench --bench sse`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use elelem::sse::{SseDecoder, SseEvent};
use elelem::ChatCompletionChunk;
use elelem_testkit::sse::ChunkStream;

fn recorded_stream() -> Vec<u8> {
    let pieces: Vec<String> = (0..10_000).map(|i| format!("token{i} ")).collect();
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    ChunkStream::new("gpt-4.1-mini", &refs)
        .usage(1_000, 10_000)
        .to_bytes()
        .to_vec()
}

fn decode(bytes: &[u8], piece: usize, parse: bool) -> usize {
    let mut decoder = SseDecoder::new();
    let mut count = 0;
    for part in bytes.chunks(piece) {
        decoder.push(part);
        while let Some(Ok(event)) = decoder.next_event() {
            if let SseEvent::Data(data) = event {
                if parse {
                    count += serde_json::from_str::<ChatCompletionChunk>(&data)
                        .map_or(0, |c| c.choices.len());
                } else {
                    count += data.len();
                }
            }
        }
    }
    count
}

fn sse(c: &mut Criterion) {
    let bytes = recorded_stream();
    let mut group = c.benchmark_group("sse_10000_chunks");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("decode_events_1500_byte_reads", |b| {
        b.iter(|| decode(black_box(&bytes), 1_500, false))
    });
    group.bench_function("decode_events_7_byte_reads", |b| {
        b.iter(|| decode(black_box(&bytes), 7, false))
    });
    group.bench_function("decode_and_parse_chunks", |b| {
        b.iter(|| decode(black_box(&bytes), 1_500, true))
    });
    group.finish();
}

criterion_group!(benches, sse);
criterion_main!(benches);
