//! The teacher's console in a real browser (see `browser.rs`), with a student's page open
//! beside it: the editor builds a contest of the four types, the monitor warms it up, an
//! announcement reaches the student's page within 2 s, and 10 extra minutes move the student's
//! countdown within 2 s.

use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::browser_student::sign_in_and_open;
use crate::support::{id_of, TestApp, ADMIN_PW};

both_databases!(a_teacher_builds_warms_announces_and_accommodates);

/// Sets a form control's value as a user would leave it, firing `input` and `change`.
async fn set(browser: &Browser, css: &str, value: &str) {
    browser.find(css).await;
    browser
        .client
        .execute(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1]; \
             e.dispatchEvent(new Event('input', { bubbles: true })); \
             e.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap_or_else(|e| panic!("{css} = {value}: {e}"));
}

/// Fills question block `n` (1-based) of the editor.
async fn question(browser: &Browser, n: usize, fields: &[(&str, &str)]) {
    let block = format!("[data-test=question-editor]:nth-of-type({n})");
    for (name, value) in fields {
        set(browser, &format!("{block} [name={name}]"), value).await;
    }
}

async fn a_teacher_builds_warms_announces_and_accommodates(app: &TestApp) {
    let Some(teacher) = Browser::start(1280, 1000).await else {
        return;
    };
    let Some(student_page) = Browser::start(1280, 900).await else {
        return;
    };
    let course = app.create_course().await;
    let student = app.logged_in_students(1).await.remove(0);
    app.enroll(course, &[student.id]).await;

    teacher.open(app, "/admin").await;
    set(&teacher, "#username", "admin").await;
    set(&teacher, "#password", ADMIN_PW).await;
    teacher
        .find("#sign-in")
        .await
        .click()
        .await
        .expect("signed in");
    teacher
        .find("#nav-new-contest")
        .await
        .click()
        .await
        .expect("new contest");
    teacher.find("#contest-editor").await;
    set(&teacher, "#contest-title", "Mechanics quiz").await;
    set(&teacher, "#contest-course", &course.to_string()).await;
    // Local times, as the datetime-local controls take them: open from a minute ago for an hour.
    teacher
        .client
        .execute(
            "const f = (d) => { const p = (n) => String(n).padStart(2, '0'); \
               return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`; }; \
             for (const [id, t] of [['contest-start', Date.now() - 60000], ['contest-end', Date.now() + 3600000]]) { \
               const e = document.getElementById(id); e.value = f(new Date(t)); \
               e.dispatchEvent(new Event('input', { bubbles: true })); \
               e.dispatchEvent(new Event('change', { bubbles: true })); }",
            vec![],
        )
        .await
        .expect("the times are set");
    set(&teacher, "#contest-results", "immediate").await;
    question(
        &teacher,
        1,
        &[
            ("type", "single"),
            ("prompt", "Which is a vector?"),
            ("options", "mass\nvelocity\ntime"),
            ("correct", "1"),
        ],
    )
    .await;
    for _ in 0..3 {
        teacher
            .find("#add-question")
            .await
            .click()
            .await
            .expect("a question");
    }
    question(
        &teacher,
        2,
        &[
            ("type", "multiple"),
            ("prompt", "SI base units?"),
            ("options", "metre\nlitre\nkelvin"),
            ("correct", "0,2"),
            ("scoring", "partial"),
            ("points", "2"),
        ],
    )
    .await;
    question(
        &teacher,
        3,
        &[
            ("type", "numeric"),
            ("prompt", "g in m/s²?"),
            ("value", "9.81"),
            ("tolerance", "0.05"),
        ],
    )
    .await;
    question(
        &teacher,
        4,
        &[
            ("type", "text"),
            ("prompt", "Unit of force?"),
            ("accepted", "newton\nN"),
        ],
    )
    .await;
    teacher.screenshot("admin-editor-desktop").await;
    teacher
        .find("#save-contest")
        .await
        .click()
        .await
        .expect("saved");

    // The contest exists as the editor described it.
    let contest: Value = teacher
        .wait_until(
            "the contest is saved",
            Duration::from_secs(10),
            "(location.hash.match(/^#\\/contests\\/(\\d+)$/) || [])[1] || null",
        )
        .await;
    let id: i64 = contest
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("an id");
    let admin = app.admin_token().await;
    let (_, stored) = app.get(&format!("/api/contests/{id}"), Some(&admin)).await;
    let types: Vec<&str> = stored["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .filter_map(|q| q["type"].as_str())
        .collect();
    assert_eq!(types, ["single", "multiple", "numeric", "text"], "{stored}");
    assert_eq!(
        stored["questions"][1]["correct_options"],
        json!([0, 2]),
        "{stored}"
    );
    assert_eq!(
        stored["questions"][2]["answer"]["value"],
        json!(9.81),
        "{stored}"
    );
    assert_eq!(stored["results"], "immediate");
    assert_eq!(id_of(&stored), id);

    // The monitor warms it up.
    teacher
        .open(app, &format!("/admin#/contests/{id}/monitor"))
        .await;
    teacher.find("#monitor").await;
    teacher
        .find("#warm-up")
        .await
        .click()
        .await
        .expect("warm-up");
    teacher
        .wait_until(
            "the warm-up answers",
            Duration::from_secs(10),
            "document.getElementById('warm-up-result').textContent.trim().length > 0",
        )
        .await;
    let health = app.health().await;
    assert!(
        health["actors"]["contests"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["contest_id"] == id)),
        "warm: {health}"
    );

    // The student's page is open; an announcement reaches it within 2 s.
    sign_in_and_open(&student_page, app, &student, id).await;
    student_page
        .wait_until(
            "the student's countdown runs",
            Duration::from_secs(10),
            "Number(document.getElementById('countdown').dataset.remainingMs) > 0",
        )
        .await;
    set(&teacher, "#announcement-text", "Question 3: use g = 9.81").await;
    teacher
        .find("#send-announcement")
        .await
        .click()
        .await
        .expect("sent");
    student_page
        .wait_until(
            "the announcement appears on the student's page",
            Duration::from_secs(2),
            "[...document.querySelectorAll('#announcements li')] \
             .some((li) => li.textContent.includes('use g = 9.81'))",
        )
        .await;

    // Ten extra minutes move the student's countdown within 2 s.
    let before = student_page.countdown_ms().await;
    set(&teacher, "#accommodation-student", &student.id.to_string()).await;
    set(&teacher, "#accommodation-extra", "10").await;
    teacher
        .find("#save-accommodation")
        .await
        .click()
        .await
        .expect("saved");
    let moved = student_page
        .wait_until(
            "the student's countdown gains ten minutes",
            Duration::from_secs(2),
            &format!(
                "(Number(document.getElementById('countdown').dataset.remainingMs) > {} + 500000) || null",
                before
            ),
        )
        .await;
    assert_eq!(moved, json!(true));
    let after = student_page.countdown_ms().await;
    assert!(
        (after - before - 600_000).abs() < 5_000,
        "before {before} ms, after {after} ms"
    );
    teacher.screenshot("admin-monitor-desktop").await;
    student_page
        .screenshot("student-announcement-desktop")
        .await;
    teacher.assert_fits(320, "admin-monitor").await;
}
