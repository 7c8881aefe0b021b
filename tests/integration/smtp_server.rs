//! A real SMTP server on 127.0.0.1 for the tests: mailin's SMTP state machine behind a small
//! threaded accept loop (one thread per connection). It records every accepted message (raw
//! DATA bytes, envelope, Message-ID) and can be scripted per address and attempt: refuse the
//! RCPT or the end of DATA with a given reply, keep a message but hang up before answering its
//! DATA, or answer `421` and close every open connection once a number of messages has been
//! accepted. Everything is recorded before the client is answered, so once `crier` has exited
//! the server's record is complete.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use mailin::{Action, Handler, Response, SessionBuilder};

/// Where in the SMTP transaction a scripted reply is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// In answer to `RCPT TO:<address>`.
    Rcpt,
    /// In answer to the end of DATA (the final `.`), after the whole message was received.
    DataEnd,
}

/// How many times a scripted reply is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// To the first `n` attempts for the address, then the server accepts.
    First(u32),
    Always,
}

/// A message the server accepted (answered `250` to the end of its DATA).
#[derive(Debug, Clone)]
pub struct Received {
    /// Which connection it came over (connections are numbered from 0).
    pub connection: u64,
    pub from: String,
    /// Envelope recipients (`RCPT TO`), as the client wrote them.
    pub to: Vec<String>,
    /// The DATA as received, dot-unstuffed, without the final `.` line.
    pub raw: Vec<u8>,
    /// The `Message-ID` header, angle brackets included.
    pub message_id: Option<String>,
    /// When the server accepted it.
    pub at: std::time::Instant,
}

/// An attempt the server refused because it was scripted to.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub stage: Stage,
    pub code: u16,
    pub to: Vec<String>,
    /// The `Message-ID` of the refused message, for refusals after DATA.
    pub message_id: Option<String>,
}

/// The code of a rule that closes the connection instead of answering.
const HANG_UP: u16 = 0;

struct Rule {
    stage: Stage,
    address: String,
    code: u16,
    text: String,
    /// `None`: always.
    left: Option<u32>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// Accepted-message counts at which every open connection is closed with `421`.
    disconnect_at: Vec<usize>,
    /// Connections numbered below this answer their next command with `421` and close.
    doomed_below: u64,
    next_connection: u64,
    received: Vec<Received>,
    refusals: Vec<Refusal>,
    rcpts: HashMap<String, u32>,
    forced_disconnects: u32,
    /// Commands the state machine could not take (syntax, sequence): a client bug.
    protocol_errors: Vec<String>,
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide what the server saw.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running server; stopped when dropped.
pub struct SmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl SmtpServer {
    /// Listen on 127.0.0.1 on a free port and accept connections on a thread.
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let shared = shared.clone();
            let stop = stop.clone();
            std::thread::spawn(move || accept_loop(listener, shared, stop))
        };
        SmtpServer {
            addr,
            shared,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `smtp://127.0.0.1:PORT`, for `smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Answer `code text` at `stage` for messages to `address`, `times` times.
    pub fn refuse(&self, stage: Stage, address: &str, code: u16, text: &str, times: Times) {
        self.shared.lock().rules.push(Rule {
            stage,
            address: address.to_ascii_lowercase(),
            code,
            text: text.to_string(),
            left: match times {
                Times::First(n) => Some(n),
                Times::Always => None,
            },
        });
    }

    /// Once `accepted` messages have been accepted, every connection open at that moment
    /// answers its next command with `421` and is closed; later connections work.
    pub fn disconnect_after(&self, accepted: usize) {
        self.shared.lock().disconnect_at.push(accepted);
    }

    /// For messages to `address`, `times` times: keep the message (it counts as received) but
    /// close the connection without answering the end of DATA, as when a connection breaks
    /// just before the `250` reaches the client.
    pub fn hang_up_after_data(&self, address: &str, times: Times) {
        self.refuse(Stage::DataEnd, address, HANG_UP, "", times);
    }

    /// Every accepted message so far, in the order accepted.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// Every scripted refusal given so far.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.shared.lock().refusals.clone()
    }

    /// How many `RCPT TO` the server saw for `address` (accepted or not).
    pub fn rcpt_count(&self, address: &str) -> u32 {
        let state = self.shared.lock();
        state
            .rcpts
            .get(&address.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// How many connections were closed with `421` by [`SmtpServer::disconnect_after`].
    pub fn forced_disconnects(&self) -> u32 {
        self.shared.lock().forced_disconnects
    }

    /// Commands the SMTP state machine refused as out of sequence or malformed.
    pub fn protocol_errors(&self) -> Vec<String> {
        self.shared.lock().protocol_errors.clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; the loop sees the flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let id = {
            let mut state = shared.lock();
            state.next_connection += 1;
            state.next_connection - 1
        };
        let shared = shared.clone();
        std::thread::spawn(move || {
            let _ = serve(&shared, stream, id);
        });
    }
}

/// What one connection's handler knows about the transaction in progress.
#[derive(Default)]
struct Transaction {
    hello: String,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    /// Close without answering the end of DATA.
    hang_up: bool,
}

/// mailin's callbacks for one connection: scripted replies, and recording.
#[derive(Clone)]
struct Connection {
    id: u64,
    shared: Arc<Shared>,
    tx: Rc<RefCell<Transaction>>,
}

impl Handler for Connection {
    fn helo(&mut self, _ip: IpAddr, domain: &str) -> Response {
        self.tx.borrow_mut().hello = domain.to_string();
        mailin::response::OK
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        let mut tx = self.tx.borrow_mut();
        tx.from = from.to_string();
        tx.to.clear();
        tx.data.clear();
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let mut state = self.shared.lock();
        *state.rcpts.entry(to.to_ascii_lowercase()).or_default() += 1;
        if let Some((code, text)) = scripted(&mut state, Stage::Rcpt, &[to.to_string()]) {
            state.refusals.push(Refusal {
                stage: Stage::Rcpt,
                code,
                to: vec![to.to_string()],
                message_id: None,
            });
            return Response::custom(code, text);
        }
        self.tx.borrow_mut().to.push(to.to_string());
        mailin::response::OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _8bit: bool, _to: &[String]) -> Response {
        self.tx.borrow_mut().data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.tx.borrow_mut().data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut tx = self.tx.borrow_mut();
        let raw = std::mem::take(&mut tx.data);
        let message_id = message_id(&raw);
        let mut state = self.shared.lock();
        match scripted(&mut state, Stage::DataEnd, &tx.to) {
            Some((code, text)) if code != HANG_UP => {
                state.refusals.push(Refusal {
                    stage: Stage::DataEnd,
                    code,
                    to: tx.to.clone(),
                    message_id,
                });
                Response::custom(code, text)
            }
            hang_up => {
                tx.hang_up = hang_up.is_some();
                state.received.push(Received {
                    connection: self.id,
                    from: tx.from.clone(),
                    to: tx.to.clone(),
                    raw,
                    message_id,
                    at: std::time::Instant::now(),
                });
                let n = state.received.len();
                if state.disconnect_at.contains(&n) {
                    state.doomed_below = state.next_connection;
                }
                Response::custom(250, format!("2.0.0 Ok: queued as {n}"))
            }
        }
    }
}

/// The scripted reply for a message to `to` at `stage`, if any (using up one of its times).
fn scripted(state: &mut State, stage: Stage, to: &[String]) -> Option<(u16, String)> {
    let rule = state.rules.iter_mut().find(|r| {
        r.stage == stage
            && r.left != Some(0)
            && to.iter().any(|t| t.eq_ignore_ascii_case(&r.address))
    })?;
    if let Some(left) = &mut rule.left {
        *left -= 1;
    }
    Some((rule.code, rule.text.clone()))
}

/// The `Message-ID` header of a raw message (header section only, folding undone).
pub fn message_id(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.eq_ignore_ascii_case("message-id") {
            continue;
        }
        let mut value = value.trim().to_string();
        while let Some(next) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
            value.push_str(next.trim());
        }
        return Some(value);
    }
    None
}

/// One client: feed each line to a mailin session and write back what it answers.
fn serve(shared: &Arc<Shared>, stream: TcpStream, id: u64) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // A client that goes silent must not keep a thread forever.
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let peer = stream.peer_addr()?.ip();
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let builder = SessionBuilder::new("mx.crier-test.invalid");
    let handler = Connection {
        id,
        shared: shared.clone(),
        tx: Rc::default(),
    };
    let mut session = builder.build(peer, handler.clone());
    session.greeting().write_to(&mut writer)?;
    let mut in_data = false;
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if !in_data {
            let mut state = shared.lock();
            if id < state.doomed_below {
                state.forced_disconnects += 1;
                drop(state);
                writer.write_all(b"421 4.3.2 Service shutting down, closing connection\r\n")?;
                return Ok(());
            }
        }
        let response = session.process(&line);
        if in_data {
            if line == b".\r\n" {
                in_data = false;
                if std::mem::take(&mut handler.tx.borrow_mut().hang_up) {
                    return Ok(());
                }
                if response.is_error && response.action != Action::Close {
                    // mailin stays in its DATA state after a refused message; start a new
                    // session in the greeted state, as a real server is after a reply.
                    let hello = handler.tx.borrow().hello.clone();
                    session = builder.build(peer, handler.clone());
                    session.process(format!("EHLO {hello}\r\n").as_bytes());
                }
            }
        } else if response.code == 354 {
            in_data = true;
        } else if (500..=504).contains(&response.code) {
            shared.lock().protocol_errors.push(format!(
                "{} -> {}",
                String::from_utf8_lossy(&line).trim_end(),
                response.code
            ));
        }
        match response.action {
            Action::NoReply => {}
            Action::Reply => response.write_to(&mut writer)?,
            Action::Close | Action::UpgradeTls => {
                response.write_to(&mut writer)?;
                return Ok(());
            }
        }
    }
}
