//! A TCP relay to the CQL database on the database's own host: the tests' way to take
//! the store away from a running engine and give it back (the driver reaches a node at
//! the address the node reports, with the contact point's port, so a relay on another
//! port of the same host carries every connection).

/// Relays connections from `listener` to `target` until [`Relay::cut`], which drops
/// the listener and every open connection at once (a partition from the store).
pub struct Relay {
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    pub fn start(listener: tokio::net::TcpListener, target: String) -> Relay {
        let tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> =
            Default::default();
        let accept = tokio::spawn({
            let tasks = tasks.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let target = target.clone();
                    let conn = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tasks.lock().unwrap().push(conn);
                }
            }
        });
        tasks.lock().unwrap().push(accept);
        Relay { tasks }
    }

    pub fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}
