//! Integration tests: the running engine driven over real sockets (HTTP + websockets).
//! One test binary (faster to link); one module per area.

mod bad_input;
mod browser;
mod callbacks;
mod channels;
mod chat_flow;
mod concurrency;
mod email;
mod faults;
mod helpers;
mod identity;
mod ivr;
mod loadtest_smoke;
mod overload;
mod privacy;
mod process;
mod prometheus;
mod recorder;
mod reports;
mod restart;
mod routing;
mod scenario;
mod security;
mod shutdown;
mod supervisor;
