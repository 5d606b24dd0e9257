//! The live timer of a contest: its frames, serialized once and shared by every subscriber on
//! the contest's window, and the set of subscribers, grouped behind outlets so a tick costs one
//! send per outlet. Students on a window of their own (API.md, "Per-student time") get their
//! own frames, serialized once per student and tick, still one send per outlet.

use std::collections::{HashMap, HashSet};

use bytestring::ByteString;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::model::{Announcement, Contest, ContestStatus, Id};
use crate::window::Window;

/// A frame for the sockets; cloning shares the bytes.
pub type Frame = ByteString;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameKind {
    State,
    Started,
    Ended,
    ScheduleChanged,
}

#[derive(Serialize)]
struct FrameBody {
    #[serde(rename = "type")]
    kind: FrameKind,
    contest_id: Id,
    status: ContestStatus,
    server_time: DateTime<Utc>,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    remaining_ms: i64,
}

/// The frame of `kind` for the contest's own window at `now`.
pub fn frame(kind: FrameKind, contest: &Contest, now: DateTime<Utc>) -> Frame {
    frame_in(kind, contest.id, contest.window(), now)
}

/// The frame of `kind` for a window of the contest at `now`. `remaining_ms` counts to the
/// start while upcoming, to the end while open, and is 0 once closed.
pub fn frame_in(kind: FrameKind, contest_id: Id, window: Window, now: DateTime<Utc>) -> Frame {
    let status = window.status(now);
    let remaining_ms = match status {
        ContestStatus::Upcoming => (window.start - now).num_milliseconds(),
        ContestStatus::Open => (window.end - now).num_milliseconds(),
        ContestStatus::Closed => 0,
    };
    let body = FrameBody {
        kind,
        contest_id,
        status,
        server_time: now,
        start_time: window.start,
        end_time: window.end,
        remaining_ms,
    };
    // A struct of numbers, strings and times always serializes.
    serde_json::to_string(&body).unwrap_or_default().into()
}

#[derive(Serialize)]
struct RegradedBody {
    #[serde(rename = "type")]
    kind: &'static str,
    contest_id: Id,
    server_time: DateTime<Utc>,
}

/// The frame that tells a student their score changed (API.md, "Correcting the answer key").
pub fn regraded(contest_id: Id, now: DateTime<Utc>) -> Frame {
    let body = RegradedBody {
        kind: "regraded",
        contest_id,
        server_time: now,
    };
    serde_json::to_string(&body).unwrap_or_default().into()
}

#[derive(Serialize)]
struct AnnouncementBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    announcement: &'a Announcement,
    server_time: DateTime<Utc>,
}

/// The frame that brings an announcement to every socket of its contest: the stored fields,
/// as `POST …/announcements` answered them, and `server_time` (every frame carries it).
pub fn announcement(announcement: &Announcement, now: DateTime<Utc>) -> Frame {
    let body = AnnouncementBody {
        kind: "announcement",
        announcement,
        server_time: now,
    };
    serde_json::to_string(&body).unwrap_or_default().into()
}

/// What a contest sends down an [`Outlet`].
#[derive(Debug, Clone)]
pub enum Push {
    /// A timer frame for every subscriber behind the outlet that is on the contest's window
    /// (not marked personal).
    Shared(Frame),
    /// A frame for every subscriber behind the outlet (an announcement).
    All(Frame),
    /// A frame for one subscriber (its first `state`, a `regraded`).
    One(u64, Frame),
    /// Frames for some subscribers behind the outlet, in order: a tick's personal frames.
    Each(Vec<(u64, Frame)>),
    /// Whether the subscriber's timer frames are its own (sent by `One`/`Each`, so `Shared`
    /// skips it) or the contest's.
    Personal(u64, bool),
    /// The subscriber lost access (unenrolled): close its socket.
    Close(u64),
}

/// A fan-out point that many subscribers share (in the server: one per HTTP worker thread and
/// contest), so a tick costs the contest one send per outlet, not one per socket. The outlet
/// owns the per-socket buffers and drops a socket that does not read. When the contest drops
/// its last sender (it stopped, or the contest was hidden), the outlet closes all its sockets.
#[derive(Debug, Clone)]
pub struct Outlet {
    pub id: u64,
    pub tx: mpsc::UnboundedSender<Push>,
}

struct Shared {
    tx: mpsc::UnboundedSender<Push>,
    subscribers: usize,
}

struct Subscriber {
    student: Option<Id>,
    outlet: u64,
    /// For a subscriber on a window of its own: the status it was last told.
    personal: Option<ContestStatus>,
}

/// The contest's subscribers, by the id their outlet gave them, and the outlets they sit behind.
#[derive(Default)]
pub struct Subscribers {
    by_id: HashMap<u64, Subscriber>,
    outlets: HashMap<u64, Shared>,
}

impl Subscribers {
    /// Adds subscriber `id` behind `outlet` and sends it `first`. `personal` is the status of
    /// the student's own window, for a student whose window differs from the contest's.
    pub fn add(
        &mut self,
        id: u64,
        student: Option<Id>,
        outlet: Outlet,
        first: Frame,
        personal: Option<ContestStatus>,
    ) {
        let shared = self.outlets.entry(outlet.id).or_insert(Shared {
            tx: outlet.tx,
            subscribers: 0,
        });
        let marked = personal.is_none() || shared.tx.send(Push::Personal(id, true)).is_ok();
        if !marked || shared.tx.send(Push::One(id, first)).is_err() {
            self.outlets.remove(&outlet.id);
            return;
        }
        shared.subscribers += 1;
        let subscriber = Subscriber {
            student,
            outlet: outlet.id,
            personal,
        };
        if let Some(old) = self.by_id.insert(id, subscriber) {
            self.release(old.outlet);
        }
    }

    pub fn remove(&mut self, id: u64) {
        if let Some(old) = self.by_id.remove(&id) {
            self.release(old.outlet);
        }
    }

    /// Re-decides which sockets are on a window of their own, for `students` (all if
    /// `None`): `personal` tells whether a student's window is their own. Outlets hear of each
    /// socket that changes side; one that becomes personal was last told `shared` (the status
    /// of the contest's window), so its own edges still get `started`/`ended`.
    pub fn refresh_personal(
        &mut self,
        students: Option<Id>,
        shared: ContestStatus,
        personal: impl Fn(Id) -> bool,
    ) {
        for (&id, sub) in &mut self.by_id {
            let Some(student) = sub.student else { continue };
            if students.is_some_and(|s| s != student) {
                continue;
            }
            let now_personal = personal(student);
            if now_personal != sub.personal.is_some() {
                if let Some(outlet) = self.outlets.get(&sub.outlet) {
                    let _ = outlet.tx.send(Push::Personal(id, now_personal));
                }
                sub.personal = now_personal.then_some(shared);
            }
        }
    }

    /// Sends each personal subscriber its own frames, serialized once per student: `first`
    /// (if any), then `started`/`ended` when its window crossed an edge since it was last
    /// told, then `state` (always when `tick`, else only after an edge). One send per outlet.
    pub fn send_personal(
        &mut self,
        contest_id: Id,
        now: DateTime<Utc>,
        first: Option<FrameKind>,
        tick: bool,
        window_of: impl Fn(Id) -> Window,
    ) {
        let mut made: HashMap<(Id, ContestStatus), Vec<Frame>> = HashMap::new();
        let mut per_outlet: HashMap<u64, Vec<(u64, Frame)>> = HashMap::new();
        for (&id, sub) in &mut self.by_id {
            let (Some(student), Some(told)) = (sub.student, sub.personal) else {
                continue;
            };
            let window = window_of(student);
            let status = window.status(now);
            let frames = made.entry((student, told)).or_insert_with(|| {
                let mut frames: Vec<Frame> = first
                    .map(|kind| frame_in(kind, contest_id, window, now))
                    .into_iter()
                    .collect();
                let edge = match status {
                    _ if status == told => None,
                    ContestStatus::Open => Some(FrameKind::Started),
                    ContestStatus::Closed => Some(FrameKind::Ended),
                    ContestStatus::Upcoming => None,
                };
                frames.extend(edge.map(|kind| frame_in(kind, contest_id, window, now)));
                if tick || status != told {
                    frames.push(frame_in(FrameKind::State, contest_id, window, now));
                }
                frames
            });
            sub.personal = Some(status);
            let out = per_outlet.entry(sub.outlet).or_default();
            out.extend(frames.iter().map(|f| (id, f.clone())));
        }
        for (outlet, frames) in per_outlet {
            if let Some(shared) = self.outlets.get(&outlet) {
                let _ = shared.tx.send(Push::Each(frames));
            }
        }
    }

    pub fn has_personal(&self) -> bool {
        self.by_id.values().any(|s| s.personal.is_some())
    }

    fn release(&mut self, outlet: u64) {
        if let Some(shared) = self.outlets.get_mut(&outlet) {
            shared.subscribers = shared.subscribers.saturating_sub(1);
            if shared.subscribers == 0 {
                self.outlets.remove(&outlet);
            }
        }
    }

    /// Closes the student's sockets (unenrolled).
    pub fn remove_student(&mut self, student: Id) {
        let ids: Vec<u64> = self
            .by_id
            .iter()
            .filter(|(_, sub)| sub.student == Some(student))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            if let Some(shared) = self
                .by_id
                .get(&id)
                .and_then(|s| self.outlets.get(&s.outlet))
            {
                let _ = shared.tx.send(Push::Close(id));
            }
            self.remove(id);
        }
    }

    /// Sends `frame` to each socket of the given students.
    pub fn send_to_students(&self, students: &HashSet<Id>, frame: &Frame) {
        for (&id, sub) in &self.by_id {
            if sub.student.is_some_and(|s| students.contains(&s)) {
                if let Some(shared) = self.outlets.get(&sub.outlet) {
                    let _ = shared.tx.send(Push::One(id, frame.clone()));
                }
            }
        }
    }

    /// Closes every socket: dropping the senders makes each outlet close its sockets.
    pub fn clear(&mut self) {
        self.by_id.clear();
        self.outlets.clear();
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Sends a timer frame of the contest's window to every outlet once, for the
    /// subscribers on it.
    pub fn broadcast(&mut self, frame: &Frame) {
        self.send_all(|| Push::Shared(frame.clone()));
    }

    /// Sends a frame to every outlet once, for every subscriber (an announcement).
    pub fn announce(&mut self, frame: &Frame) {
        self.send_all(|| Push::All(frame.clone()));
    }

    /// An outlet that is gone takes its subscribers with it.
    fn send_all(&mut self, push: impl Fn() -> Push) {
        let gone: Vec<u64> = self
            .outlets
            .iter()
            .filter(|(_, s)| s.tx.send(push()).is_err())
            .map(|(&id, _)| id)
            .collect();
        if !gone.is_empty() {
            self.outlets.retain(|id, _| !gone.contains(id));
            self.by_id.retain(|_, sub| !gone.contains(&sub.outlet));
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::model::ResultsPolicy;

    fn contest(start: DateTime<Utc>, end: DateTime<Utc>) -> Contest {
        Contest {
            id: 4,
            course_id: 1,
            title: "t".into(),
            start_time: start,
            end_time: end,
            results: ResultsPolicy::AfterClose,
            is_active: true,
            shuffle: Default::default(),
            grace_seconds: 0,
            duration_minutes: None,
        }
    }

    #[test]
    fn remaining_counts_to_the_next_edge() {
        let now = Utc::now();
        let upcoming = contest(now + TimeDelta::seconds(2), now + TimeDelta::seconds(9));
        let v: serde_json::Value =
            serde_json::from_str(&frame(FrameKind::State, &upcoming, now)).unwrap();
        assert_eq!(
            (
                v["type"].as_str(),
                v["status"].as_str(),
                v["remaining_ms"].as_i64()
            ),
            (Some("state"), Some("upcoming"), Some(2000))
        );
        let open = contest(now - TimeDelta::seconds(1), now + TimeDelta::seconds(3));
        let v: serde_json::Value =
            serde_json::from_str(&frame(FrameKind::Started, &open, now)).unwrap();
        assert_eq!(
            (
                v["type"].as_str(),
                v["status"].as_str(),
                v["remaining_ms"].as_i64()
            ),
            (Some("started"), Some("open"), Some(3000))
        );
        let closed = contest(now - TimeDelta::seconds(5), now - TimeDelta::seconds(1));
        let v: serde_json::Value =
            serde_json::from_str(&frame(FrameKind::ScheduleChanged, &closed, now)).unwrap();
        assert_eq!(
            (
                v["type"].as_str(),
                v["remaining_ms"].as_i64(),
                v["contest_id"].as_i64()
            ),
            (Some("schedule_changed"), Some(0), Some(4))
        );
    }

    #[test]
    fn an_announcement_frame_carries_the_stored_fields_and_the_time() {
        let created_at = Utc::now() - TimeDelta::seconds(1);
        let now = Utc::now();
        let posted = Announcement {
            id: 9,
            contest_id: 4,
            text: "Question 2: read \"km\" as \"m\" — ünïcödé".into(),
            created_at,
        };
        let v: serde_json::Value = serde_json::from_str(&announcement(&posted, now)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "type": "announcement",
                "id": 9,
                "contest_id": 4,
                "text": posted.text,
                "created_at": created_at,
                "server_time": now,
            })
        );
    }

    fn outlet(id: u64) -> (Outlet, mpsc::UnboundedReceiver<Push>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Outlet { id, tx }, rx)
    }

    #[test]
    fn a_tick_costs_one_send_per_outlet() {
        let mut subs = Subscribers::default();
        let (a, mut a_rx) = outlet(1);
        let (b, mut b_rx) = outlet(2);
        for id in 1..=3 {
            subs.add(id, Some(id as Id), a.clone(), "first".into(), None);
        }
        subs.add(4, Some(4), b, "first".into(), None);
        subs.broadcast(&"tick".into());
        let pushes = |rx: &mut mpsc::UnboundedReceiver<Push>| {
            std::iter::from_fn(|| rx.try_recv().ok()).collect::<Vec<_>>()
        };
        let a_got = pushes(&mut a_rx);
        assert_eq!(a_got.len(), 4, "three firsts and one tick: {a_got:?}");
        assert!(matches!(&a_got[3], Push::Shared(f) if f == "tick"));
        assert_eq!(pushes(&mut b_rx).len(), 2);
        assert_eq!(subs.len(), 4);
    }

    #[test]
    fn unenrolled_students_are_closed_and_empty_outlets_released() {
        let mut subs = Subscribers::default();
        let (a, mut a_rx) = outlet(1);
        subs.add(1, Some(7), a.clone(), "f".into(), None);
        subs.add(2, None, a, "f".into(), None);
        subs.remove_student(7);
        let got: Vec<Push> = std::iter::from_fn(|| a_rx.try_recv().ok()).collect();
        assert!(matches!(got.last(), Some(Push::Close(1))), "{got:?}");
        assert_eq!(subs.len(), 1);
        subs.remove(2);
        // The contest no longer holds the outlet's sender: the outlet sees the end.
        assert!(matches!(
            a_rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn a_gone_outlet_takes_its_subscribers_with_it() {
        let mut subs = Subscribers::default();
        let (a, a_rx) = outlet(1);
        let (b, _b_rx) = outlet(2);
        subs.add(1, Some(1), a, "f".into(), None);
        subs.add(2, Some(2), b, "f".into(), None);
        drop(a_rx);
        subs.broadcast(&"x".into());
        assert_eq!(subs.len(), 1);
    }

    #[test]
    fn personal_subscribers_get_their_own_frames_once_per_outlet() {
        let now = Utc::now();
        let at = |s: i64| now + TimeDelta::seconds(s);
        let mut subs = Subscribers::default();
        let (a, mut a_rx) = outlet(1);
        subs.add(
            1,
            Some(7),
            a.clone(),
            "f".into(),
            Some(ContestStatus::Upcoming),
        );
        subs.add(
            2,
            Some(7),
            a.clone(),
            "f".into(),
            Some(ContestStatus::Upcoming),
        );
        subs.add(3, Some(8), a, "f".into(), None);
        let pushes = |rx: &mut mpsc::UnboundedReceiver<Push>| {
            std::iter::from_fn(|| rx.try_recv().ok()).collect::<Vec<_>>()
        };
        let marked: Vec<u64> = pushes(&mut a_rx)
            .into_iter()
            .filter_map(|p| match p {
                Push::Personal(id, true) => Some(id),
                _ => None,
            })
            .collect();
        assert_eq!(marked, [1, 2], "only the personal sockets are marked");
        // Student 7's window opened a second ago: `started`, then `state`, in one push.
        let window = Window {
            start: at(-1),
            end: at(60),
        };
        subs.send_personal(4, now, None, true, |_| window);
        let got = pushes(&mut a_rx);
        let [Push::Each(frames)] = got.as_slice() else {
            panic!("one push for the outlet: {got:?}");
        };
        let kinds = |id: u64| -> Vec<String> {
            frames
                .iter()
                .filter(|(to, _)| *to == id)
                .map(|(_, f)| {
                    let v: serde_json::Value = serde_json::from_str(f).unwrap();
                    format!("{}:{}", v["type"].as_str().unwrap(), v["end_time"])
                })
                .collect()
        };
        let end = serde_json::to_value(at(60)).unwrap();
        assert_eq!(kinds(1), [format!("started:{end}"), format!("state:{end}")]);
        assert_eq!(kinds(1), kinds(2));
        assert!(kinds(3).is_empty(), "on the contest's window");
        // Told now: the next tick is `state` alone. Back on the contest's window: unmarked.
        subs.send_personal(4, now, None, true, |_| window);
        assert!(matches!(pushes(&mut a_rx).as_slice(), [Push::Each(f)] if f.len() == 2));
        subs.refresh_personal(Some(7), ContestStatus::Open, |_| false);
        let unmarked = pushes(&mut a_rx);
        assert_eq!(unmarked.len(), 2, "{unmarked:?}");
        assert!(!subs.has_personal());
    }
}
