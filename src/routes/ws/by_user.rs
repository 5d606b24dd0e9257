//! Every live socket by its user: at most `per_user` each (opening one more closes the oldest),
//! and the sockets opened with a token close as soon as that token is revoked. Keyed by
//! authenticated users only, so it holds at most users × `per_user` entries.

use std::collections::{HashMap, VecDeque};

use actix_ws::CloseCode;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::auth::token::TokenHash;
use crate::model::Id;

pub struct UserSockets {
    per_user: usize,
    users: Mutex<HashMap<Id, VecDeque<Entry>>>,
}

struct Entry {
    socket: u64,
    token: TokenHash,
    /// Tells the socket's task to close with this code.
    close: oneshot::Sender<CloseCode>,
}

impl UserSockets {
    pub fn new(per_user: usize) -> Self {
        UserSockets {
            per_user: per_user.max(1),
            users: Mutex::default(),
        }
    }

    /// Registers a new socket, closing the user's oldest ones past the cap. The receiver gets
    /// the code to close with.
    pub fn open(&self, user: Id, token: TokenHash, socket: u64) -> oneshot::Receiver<CloseCode> {
        let (close, closed) = oneshot::channel();
        let mut users = self.users.lock();
        let sockets = users.entry(user).or_default();
        while sockets.len() >= self.per_user {
            if let Some(oldest) = sockets.pop_front() {
                let _ = oldest.close.send(CloseCode::Policy);
            }
        }
        sockets.push_back(Entry {
            socket,
            token,
            close,
        });
        closed
    }

    /// The distinct (user, token) pairs live sockets were opened with.
    pub fn tokens(&self) -> Vec<(Id, TokenHash)> {
        let users = self.users.lock();
        let mut pairs: Vec<(Id, TokenHash)> = users
            .iter()
            .flat_map(|(user, sockets)| sockets.iter().map(|e| (*user, e.token)))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// Forgets a socket that has ended.
    pub fn closed(&self, user: Id, socket: u64) {
        let mut users = self.users.lock();
        if let Some(sockets) = users.get_mut(&user) {
            sockets.retain(|e| e.socket != socket);
            if sockets.is_empty() {
                users.remove(&user);
            }
        }
    }

    /// Closes every socket opened with `token`.
    pub fn revoke(&self, user: Id, token: &TokenHash) {
        let mut users = self.users.lock();
        let Some(sockets) = users.get_mut(&user) else {
            return;
        };
        let (revoked, kept) = sockets.drain(..).partition(|e| e.token == *token);
        *sockets = kept;
        if sockets.is_empty() {
            users.remove(&user);
        }
        for entry in revoked {
            let _ = entry.close.send(CloseCode::Policy);
        }
    }

    /// Sockets registered for `user` (for tests).
    #[cfg(test)]
    fn count(&self, user: Id) -> usize {
        self.users.lock().get(&user).map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_socket_closes_past_the_cap() {
        let sockets = UserSockets::new(2);
        let mut first = sockets.open(1, [1; 32], 10);
        let mut second = sockets.open(1, [1; 32], 11);
        let mut other_user = sockets.open(2, [2; 32], 20);
        let mut third = sockets.open(1, [3; 32], 12);
        assert_eq!(first.try_recv(), Ok(CloseCode::Policy));
        assert!(second.try_recv().is_err());
        assert!(third.try_recv().is_err());
        assert!(other_user.try_recv().is_err());
        assert_eq!(sockets.count(1), 2);
        sockets.closed(1, 11);
        sockets.closed(1, 12);
        assert_eq!(sockets.count(1), 0);
    }

    #[test]
    fn revoking_a_token_closes_only_its_sockets() {
        let sockets = UserSockets::new(5);
        let mut a = sockets.open(1, [1; 32], 10);
        let mut b = sockets.open(1, [1; 32], 11);
        let mut other_token = sockets.open(1, [9; 32], 12);
        sockets.revoke(1, &[1; 32]);
        assert_eq!(a.try_recv(), Ok(CloseCode::Policy));
        assert_eq!(b.try_recv(), Ok(CloseCode::Policy));
        assert!(other_token.try_recv().is_err());
        assert_eq!(sockets.count(1), 1);
    }
}
