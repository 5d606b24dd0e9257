//! The student's page in a real browser (see `browser.rs`): a whole quiz of the four question
//! types with autosave, a reload and a receipt that verifies with the public key alone; the
//! countdown against the server's clock with the page's clock shifted; the deadline with a
//! saved draft and a change not yet saved; a quiz done with the keyboard alone; screenshots at
//! desktop and phone widths.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use fantoccini::key::Key;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::support::{
    assert_before, contest_body, id_of, open_window, parse_time, receipt_verifies, sleep_until,
    Student, TestApp, STUDENT_PW,
};

both_databases!(
    a_student_answers_every_type_reloads_and_submits,
    the_countdown_follows_the_server_clock_not_the_page_s,
    the_deadline_submits_the_saved_draft,
    a_quiz_is_done_with_the_keyboard_alone;
    with_db: the_page_rides_out_a_server_restart,
);

/// A course with one enrolled student and an open contest of the four question types.
async fn quiz(
    app: &TestApp,
    window: (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
) -> (Value, Student) {
    let course = app.create_course().await;
    let student = app.logged_in_students(1).await.remove(0);
    app.enroll(course, &[student.id]).await;
    let mut body = contest_body(course, window.0, window.1);
    body["title"] = json!("Physics — week 3");
    body["results"] = json!("immediate");
    body["questions"] = json!([
        { "type": "single", "prompt": "Which is a vector?", "options": ["mass", "velocity", "time"],
          "correct_option": 1 },
        { "type": "multiple", "prompt": "Which are SI base units?", "options": ["metre", "litre", "kelvin"],
          "correct_options": [0, 2], "scoring": "partial", "points": 2 },
        { "type": "numeric", "prompt": "g in m/s²?", "answer": { "value": 9.81, "tolerance": 0.05 } },
        { "type": "text", "prompt": "Unit of force?", "accepted": ["newton"] },
    ]);
    let contest = app.create_contest_from(body).await;
    (contest, student)
}

/// `quiz`, then the student signs in on `browser` and opens it: the contest's id, its
/// question ids in order, and the student.
async fn open_quiz(
    browser: &Browser,
    app: &TestApp,
    window: (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
) -> (i64, Vec<i64>, Student) {
    let (contest, student) = quiz(app, window).await;
    let id = id_of(&contest);
    let q = (0..4).map(|i| question_id(&contest, i)).collect();
    sign_in_and_open(browser, app, &student, id).await;
    (id, q, student)
}

/// Clicks the element matching `css` (waiting for it).
async fn click(browser: &Browser, css: &str) {
    browser
        .find(css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// The student's submission, which must exist.
async fn my_submission(app: &TestApp, contest: i64, student: &Student) -> Value {
    let path = format!("/api/contests/{contest}/my-submission");
    let (status, mine) = app.get(&path, Some(&student.token)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}'s submission: {mine}",
        student.username
    );
    mine
}

fn question_id(contest: &Value, i: usize) -> i64 {
    contest["questions"][i]["id"]
        .as_i64()
        .expect("a question id")
}

/// Signs in through the form and opens the contest from the list.
pub async fn sign_in_and_open(browser: &Browser, app: &TestApp, student: &Student, contest: i64) {
    browser.open(app, "/").await;
    browser
        .find("#username")
        .await
        .send_keys(&student.username)
        .await
        .expect("typed");
    browser
        .find("#password")
        .await
        .send_keys(STUDENT_PW)
        .await
        .expect("typed");
    click(browser, "#sign-in").await;
    let link = format!("[data-test=contest][data-id='{contest}']");
    click(browser, &link).await;
    browser.find("[data-test=question]").await;
}

async fn wait_saved(browser: &Browser, what: &str) {
    browser
        .wait_until(
            what,
            Duration::from_secs(15),
            "document.getElementById('save-status').dataset.state === 'saved'",
        )
        .await;
}

async fn a_student_answers_every_type_reloads_and_submits(app: &TestApp) {
    let Some(browser) = Browser::start(1280, 1000).await else {
        return;
    };
    let (id, q, student) = open_quiz(&browser, app, open_window()).await;

    click(&browser, &format!("input[name=q{}][value='1']", q[0])).await;
    for option in [0, 2] {
        let css = format!("input[name=q{}][value='{option}']", q[1]);
        click(&browser, &css).await;
    }
    browser
        .find(&format!("#q{}", q[2]))
        .await
        .send_keys("9.8")
        .await
        .expect("numeric");
    browser
        .find(&format!("#q{}", q[3]))
        .await
        .send_keys("Newton")
        .await
        .expect("text");
    wait_saved(&browser, "the four answers are saved").await;
    let (status, draft) = app
        .get(&format!("/api/contests/{id}/draft"), Some(&student.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!(
        draft["answers"].as_array().map(Vec::len),
        Some(4),
        "{draft}"
    );
    browser.screenshot("student-contest-desktop").await;
    browser.assert_fits(320, "student-contest").await;

    // A reload finds every answer again.
    browser.client.refresh().await.expect("reloaded");
    browser.find("[data-test=question]").await;
    let restored = browser
        .wait_until(
            "the draft is restored",
            Duration::from_secs(10),
            &format!(
                "document.querySelector('input[name=q{}][value=\"1\"]')?.checked \
                 && document.querySelector('input[name=q{}][value=\"0\"]').checked \
                 && !document.querySelector('input[name=q{}][value=\"1\"]').checked \
                 && document.querySelector('input[name=q{}][value=\"2\"]').checked \
                 && document.getElementById('q{}').value === '9.8' \
                 && document.getElementById('q{}').value",
                q[0], q[1], q[1], q[1], q[2], q[3]
            ),
        )
        .await;
    assert_eq!(restored, json!("Newton"));

    click(&browser, "#submit").await;
    click(&browser, "#confirm-submit").await;
    let shown = browser.find("#receipt-json").await;
    let text = shown.text().await.expect("the receipt's text");
    let text = if text.trim().is_empty() {
        shown
            .prop("textContent")
            .await
            .expect("textContent")
            .unwrap_or_default()
    } else {
        text
    };
    let receipt: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("#receipt-json holds the receipt JSON ({e}): {text}"));
    let key = app.receipt_key().await;
    let payload = receipt["payload"].as_str().expect("a payload");
    let signature = receipt["signature"].as_str().expect("a signature");
    assert!(receipt_verifies(&key, payload, signature), "{receipt}");
    assert!(!receipt_verifies(
        &key,
        &payload.replace('|', "|0"),
        signature
    ));
    let mine = my_submission(app, id, &student).await;
    assert_eq!(
        mine["receipt"], receipt,
        "the page shows the server's receipt"
    );
    assert_eq!(mine["auto"], false);
    assert_eq!(mine["answers"].as_array().map(Vec::len), Some(4), "{mine}");
    let receipt_id = browser
        .find("#receipt-id")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        receipt_id.contains(mine["id"].as_str().expect("an id")),
        "{receipt_id}"
    );
    // Results are immediate: single 1 + multiple 2 + numeric 1 + text 1 (case folded).
    let score = browser.find("#score").await.text().await.expect("text");
    assert!(score.contains('5'), "{score}");
    browser.screenshot("student-receipt-desktop").await;
}

async fn the_countdown_follows_the_server_clock_not_the_page_s(app: &TestApp) {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let (contest, student) = quiz(app, open_window()).await;
    let id = id_of(&contest);
    let end = parse_time(&contest["end_time"]);
    sign_in_and_open(&browser, app, &student, id).await;
    let read = || async {
        let shown = browser.countdown_ms().await;
        (shown, (end - Utc::now()).num_milliseconds())
    };
    browser
        .wait_until(
            "the countdown runs",
            Duration::from_secs(10),
            "Number(document.getElementById('countdown').dataset.remainingMs) > 0",
        )
        .await;
    let (shown, expected) = read().await;
    assert!(
        (shown - expected).abs() <= 1000,
        "shown {shown} ms, server {expected} ms"
    );
    // The page's own clock jumps an hour ahead: the countdown must not follow it.
    browser
        .client
        .execute(
            "const realNow = Date.now.bind(Date); \
             Date.now = () => realNow() + 3600000; \
             const RealDate = Date; \
             window.Date = class extends RealDate { \
               constructor(...a) { if (a.length) { super(...a); } else { super(realNow() + 3600000); } } \
               static now() { return realNow() + 3600000; } };",
            vec![],
        )
        .await
        .expect("the clock is shifted");
    // Two ticks for the page to notice (it corrects its offset with each `state` frame).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for _ in 0..3 {
        let (shown, expected) = read().await;
        assert!(
            (shown - expected).abs() <= 1000,
            "with the page's clock an hour fast: shown {shown} ms, server {expected} ms"
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

/// A saved answer, then a change 1.5 s before the end (the autosave waits 2 s after a change):
/// at the end the page shows the automatic submission, which holds the saved draft.
async fn the_deadline_submits_the_saved_draft(app: &TestApp) {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let now = Utc::now();
    let end = now + TimeDelta::seconds(20);
    let (id, q, student) = open_quiz(&browser, app, (now - TimeDelta::minutes(5), end)).await;
    click(&browser, &format!("input[name=q{}][value='1']", q[0])).await;
    wait_saved(&browser, "the first answer is saved").await;
    // A change 1.5 s before the end: the autosave (2 s after a change) cannot send it in time.
    let late = end - TimeDelta::milliseconds(1500);
    assert_before(late, "signing in, answering and saving");
    sleep_until(late).await;
    browser
        .find(&format!("#q{}", q[3]))
        .await
        .send_keys("too late")
        .await
        .unwrap_or_else(|e| panic!("typing 1.5 s before the end (the machine is too slow?): {e}"));
    let notice = browser
        .client
        .wait()
        .at_most(Duration::from_secs(8))
        .for_element(fantoccini::Locator::Css("#auto-submitted"))
        .await
        .unwrap_or_else(|e| {
            panic!("the page shows the auto-submission within 8 s of the end: {e}")
        });
    assert!(!notice.text().await.expect("text").trim().is_empty());
    let mine = my_submission(app, id, &student).await;
    assert_eq!(mine["auto"], true, "{mine}");
    // The page saves what is pending when its clock reaches the end; whether that save lands
    // before the server's deadline is a race, so the submission is one of the two drafts the
    // server can have held: nothing lost, nothing invented.
    let saved = json!([{ "question_id": q[0], "option": 1 }]);
    let with_late = json!([
        { "question_id": q[0], "option": 1 },
        { "question_id": q[3], "text": "too late" },
    ]);
    assert!(
        mine["answers"] == saved || mine["answers"] == with_late,
        "a draft the server held: {mine}"
    );
    browser.screenshot("student-auto-submitted-desktop").await;
}

/// Presses Tab until the focused element matches `css` (at most 40 times).
async fn tab_to(browser: &Browser, css: &str) {
    for _ in 0..40 {
        let on = browser
            .client
            .execute(
                "return document.activeElement && document.activeElement.matches(arguments[0]);",
                vec![json!(css)],
            )
            .await
            .expect("the focused element");
        if on == json!(true) {
            return;
        }
        browser
            .client
            .active_element()
            .await
            .expect("an active element")
            .send_keys(&char::from(Key::Tab).to_string())
            .await
            .expect("Tab");
    }
    panic!("Tab never reached {css}");
}

async fn type_here(browser: &Browser, text: &str) {
    browser
        .client
        .active_element()
        .await
        .expect("an active element")
        .send_keys(text)
        .await
        .expect("typed");
}

async fn a_quiz_is_done_with_the_keyboard_alone(app: &TestApp) {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let (contest, student) = quiz(app, open_window()).await;
    let id = id_of(&contest);
    let q: Vec<i64> = (0..4).map(|i| question_id(&contest, i)).collect();
    browser.open(app, "/").await;
    browser.find("#username").await;
    tab_to(&browser, "#username").await;
    type_here(&browser, &student.username).await;
    tab_to(&browser, "#password").await;
    type_here(&browser, &format!("{STUDENT_PW}{}", char::from(Key::Enter))).await;
    let link = format!("[data-test=contest][data-id='{id}']");
    browser.find(&link).await;
    tab_to(&browser, &link).await;
    type_here(&browser, &char::from(Key::Enter).to_string()).await;
    browser.find("[data-test=question]").await;
    let space = char::from(Key::Space).to_string();
    tab_to(&browser, &format!("input[name=q{}]", q[0])).await;
    // Arrow keys move within a radio group; Space checks the focused one.
    type_here(&browser, &char::from(Key::Down).to_string()).await;
    tab_to(&browser, &format!("input[name=q{}][value='0']", q[1])).await;
    type_here(&browser, &space).await;
    tab_to(&browser, &format!("#q{}", q[2])).await;
    type_here(&browser, "9.81").await;
    tab_to(&browser, &format!("#q{}", q[3])).await;
    type_here(&browser, "newton").await;
    tab_to(&browser, "#submit").await;
    // The focus is visible: the focused button has an outline or a ring.
    let ring = browser
        .client
        .execute(
            "const s = getComputedStyle(document.activeElement); \
             return s.outlineStyle !== 'none' || s.boxShadow !== 'none';",
            vec![],
        )
        .await
        .expect("the focused style");
    assert_eq!(ring, json!(true), "a visible focus on #submit");
    type_here(&browser, &char::from(Key::Enter).to_string()).await;
    browser.find("#confirm-submit").await;
    tab_to(&browser, "#confirm-submit").await;
    type_here(&browser, &char::from(Key::Enter).to_string()).await;
    browser.find("#receipt").await;
    let mine = my_submission(app, id, &student).await;
    let answers = mine["answers"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        answers.len(),
        4,
        "every question answered by keyboard: {mine}"
    );
    assert_eq!(answers[0]["question_id"], q[0]);
    assert!(answers[0]["option"].is_number(), "{mine}");
    assert_eq!(answers[1]["options"], json!([0]), "{mine}");
    assert_eq!(answers[3]["text"], "newton", "{mine}");
}

/// `kill -9` mid-exam, then the same binary again on the same port: the page shows
/// "reconnecting", keeps the answer typed meanwhile, comes back live and saves it; nothing saved
/// before is lost.
async fn the_page_rides_out_a_server_restart(db: crate::support::Db) {
    let Some(app) = crate::support::spawn_binary(db, &[]).await else {
        return;
    };
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let (id, q, student) = open_quiz(&browser, &app, open_window()).await;
    browser
        .wait_until(
            "the page is live",
            Duration::from_secs(10),
            "document.getElementById('connection').dataset.state === 'live'",
        )
        .await;
    click(&browser, &format!("input[name=q{}][value='1']", q[0])).await;
    wait_saved(&browser, "the first answer is saved").await;

    app.kill();
    browser
        .wait_until(
            "the page shows it is reconnecting",
            Duration::from_secs(10),
            "document.getElementById('connection').dataset.state === 'reconnecting'",
        )
        .await;
    browser
        .find(&format!("#q{}", q[3]))
        .await
        .send_keys("newton")
        .await
        .expect("typed");
    browser.screenshot("student-reconnecting-desktop").await;
    let back = app.restarted(&[]).await;
    browser
        .wait_until(
            "the page is live again",
            Duration::from_secs(40),
            "document.getElementById('connection').dataset.state === 'live'",
        )
        .await;
    wait_saved(&browser, "the answer typed during the outage is saved").await;
    let (status, draft) = back
        .get(&format!("/api/contests/{id}/draft"), Some(&student.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    let answers = draft["answers"].as_array().cloned().unwrap_or_default();
    assert!(
        answers
            .iter()
            .any(|a| a["question_id"] == q[0] && a["option"] == 1),
        "the answer saved before the kill: {draft}"
    );
    assert!(
        answers
            .iter()
            .any(|a| a["question_id"] == q[3] && a["text"] == "newton"),
        "the answer typed while the server was down: {draft}"
    );
}
