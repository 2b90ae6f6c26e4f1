//! Graceful shutdown for websocket sessions: when the engine begins draining
//! ([`crate::actors::Engine::begin_drain`], on SIGTERM), every session sends its client a
//! `reconnect` message and closes with 1012 (service restart), so browsers come back to
//! the next instance instead of timing out. Owns only that hand-off; the session types
//! decide what the `reconnect` message looks like.

use actix::prelude::*;
use actix_web_actors::ws;
use tokio::sync::watch;

/// What the close frame says.
pub const RECONNECT_REASON: &str = "server restarting; reconnect";

/// Spawns, in the session's context, a wait for the drain signal; when it comes, the
/// session writes `reconnect` (a serialised `reconnect` message), closes with 1012 and
/// stops. A signal whose sender is gone (the engine is gone) does nothing.
pub fn watch<A>(
    act: &A,
    ctx: &mut ws::WebsocketContext<A>,
    mut rx: watch::Receiver<bool>,
    reconnect: String,
) where
    A: Actor<Context = ws::WebsocketContext<A>>,
{
    ctx.spawn(
        async move { rx.wait_for(|d| *d).await.is_ok() }
            .into_actor(act)
            .map(move |drained, _, ctx| {
                if drained {
                    ctx.text(reconnect);
                    ctx.close(Some(ws::CloseReason {
                        code: ws::CloseCode::Restart,
                        description: Some(RECONNECT_REASON.into()),
                    }));
                    ctx.stop();
                }
            }),
    );
}
