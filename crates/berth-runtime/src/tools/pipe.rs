//! Byte pipes between blocking archive code (on a blocking thread) and async blob streams, so
//! a snapshot streams to and from blob storage with a few chunks in memory at most.

use std::io::{self, Read, Write};

use bytes::Bytes;
use tokio::sync::mpsc;

/// Chunks handed across at once; with [`CHUNKS_IN_FLIGHT`] this bounds a pipe's memory.
const CHUNK_BYTES: usize = 256 * 1024;
pub(super) const CHUNKS_IN_FLIGHT: usize = 4;

pub(super) type Chunk = Result<Bytes, io::Error>;

/// A pipe whose writing end is blocking code and whose reading end is a stream.
pub(super) fn to_stream() -> (PipeWriter, mpsc::Receiver<Chunk>) {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    (
        PipeWriter {
            tx,
            buffer: Vec::with_capacity(CHUNK_BYTES),
        },
        rx,
    )
}

/// A pipe whose writing end is async code and whose reading end is blocking code.
pub(super) fn from_stream() -> (mpsc::Sender<Chunk>, PipeReader) {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    (
        tx,
        PipeReader {
            rx,
            current: Bytes::new(),
        },
    )
}

/// Writes into a pipe from a blocking thread (never from async code: sends block).
pub(super) struct PipeWriter {
    tx: mpsc::Sender<Chunk>,
    buffer: Vec<u8>,
}

impl PipeWriter {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }

    /// Ends the stream after what was written.
    pub(super) fn finish(mut self) -> io::Result<()> {
        self.send_buffer()
    }

    /// Ends the stream with an error, so the reading end fails rather than taking what was
    /// written for the whole.
    pub(super) fn fail(self, message: String) {
        let _ = self.tx.blocking_send(Err(io::Error::other(message)));
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

/// Reads from a pipe on a blocking thread; the end of the stream is the end of the input.
pub(super) struct PipeReader {
    rx: mpsc::Receiver<Chunk>,
    current: Bytes,
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(chunk) => self.current = chunk?,
            }
        }
        let n = out.len().min(self.current.len());
        let head = self.current.split_to(n);
        out.get_mut(..n)
            .ok_or_else(|| io::Error::other("read buffer"))?
            .copy_from_slice(&head);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn bytes_cross_both_ways_and_failures_reach_the_other_end() {
        let (mut writer, rx) = to_stream();
        let writing = tokio::task::spawn_blocking(move || {
            for _ in 0..10 {
                writer.write_all(&[7u8; 100_000]).unwrap();
            }
            writer.finish().unwrap();
        });
        let chunks: Vec<Chunk> = tokio_stream::wrappers::ReceiverStream::new(rx)
            .collect()
            .await;
        writing.await.unwrap();
        let total: usize = chunks.iter().map(|c| c.as_ref().unwrap().len()).sum();
        assert_eq!(total, 1_000_000);

        let (writer, mut rx) = to_stream();
        tokio::task::spawn_blocking(move || writer.fail("broken".into()));
        assert!(rx.recv().await.unwrap().is_err());

        let (tx, mut reader) = from_stream();
        let reading = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            let result = reader.read_to_end(&mut all);
            (all, result.is_err())
        });
        tx.send(Ok(Bytes::from_static(b"abc"))).await.unwrap();
        tx.send(Ok(Bytes::from_static(b"def"))).await.unwrap();
        tx.send(Err(io::Error::other("cut"))).await.unwrap();
        drop(tx);
        let (all, failed) = reading.await.unwrap();
        assert_eq!(all, b"abcdef");
        assert!(failed, "a stream error is a read error");
    }
}
