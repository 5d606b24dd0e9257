//! Submitting, reading one's own submissions, and the admin's list and leaderboard.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{parse_body, parse_query, Body};
use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::model::{self, parse_id_list, Answer, Contest, ContestStatus, Id};
use crate::store::{NamedSubmission, Store, Submission};
use contestd_actors::{GetContest, GetOwnSubmission, GetView, Runtime, Submit};

/// `/contests/my-submissions-bulk`, which `/contests/{id}` would catch.
pub fn configure_fixed(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/contests/my-submissions-bulk").route(web::get().to(my_submissions_bulk)),
    );
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/contests/{id}/submissions")
            .route(web::post().to(submit))
            .route(web::get().to(list)),
    )
    .service(web::resource("/contests/{id}/my-submission").route(web::get().to(my_submission)))
    .service(web::resource("/contests/{id}/leaderboard").route(web::get().to(leaderboard)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitRequest {
    answers: Vec<Answer>,
}

#[derive(Serialize)]
struct SubmitResponse {
    id: Uuid,
    contest_id: Id,
    student_id: Id,
    submitted_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_score: Option<i64>,
}

/// The contest actor checks, claims and grades; the answer comes once the row is committed.
async fn submit(
    caller: Caller,
    runtime: web::Data<Runtime>,
    path: web::Path<Id>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let student = caller.user.id;
    let request: SubmitRequest = match parse_body(&body.0) {
        Ok(request) => request,
        Err(bad_body) => {
            // The resource comes before the body: a missing contest is 404, not 400.
            runtime
                .ask(
                    id,
                    GetContest {
                        student: Some(student),
                    },
                )
                .await??;
            return Err(bad_body);
        }
    };
    let receipt = runtime
        .ask(
            id,
            Submit {
                student,
                answers: request.answers,
            },
        )
        .await??;
    Ok(HttpResponse::Created().json(SubmitResponse {
        id: receipt.id,
        contest_id: receipt.contest_id,
        student_id: receipt.student_id,
        submitted_at: receipt.submitted_at,
        score: receipt.score.map(|(score, _)| score),
        max_score: receipt.score.map(|(_, max)| max),
    }))
}

/// A student's own submission; scores are `null` until results may be shown.
#[derive(Serialize)]
struct OwnSubmission {
    id: Uuid,
    contest_id: Id,
    student_id: Id,
    submitted_at: DateTime<Utc>,
    answers: Vec<Answer>,
    score: Option<i64>,
    max_score: Option<i64>,
}

impl OwnSubmission {
    fn new(s: Submission, contest: &Contest, now: DateTime<Utc>) -> Self {
        let visible = contest.results_visible(now);
        OwnSubmission {
            id: s.id,
            contest_id: s.contest_id,
            student_id: s.student_id,
            submitted_at: s.submitted_at,
            answers: s.answers,
            score: visible.then_some(s.score),
            max_score: visible.then_some(s.max_score),
        }
    }
}

async fn my_submission(
    caller: Caller,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let student = caller.user.id;
    let (contest, committed_here) = runtime.ask(id, GetOwnSubmission { student }).await??;
    let submission = match committed_here {
        Some(row) => Submission::from(row.as_ref()),
        None => store
            .submission(id, student)
            .await?
            .ok_or_else(|| ApiError::not_found("submission"))?,
    };
    Ok(HttpResponse::Ok().json(OwnSubmission::new(submission, &contest, model::now())))
}

#[derive(Deserialize)]
struct ContestIdsQuery {
    contest_ids: String,
}

async fn my_submissions_bulk(
    caller: Caller,
    req: HttpRequest,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let query: ContestIdsQuery = parse_query(&req)?;
    let ids = parse_id_list(&query.contest_ids, "contest_ids", 100)?;
    let now = model::now();
    let submissions: Vec<OwnSubmission> = store
        .submissions_of(caller.user.id, &ids)
        .await?
        .into_iter()
        .map(|(s, contest)| OwnSubmission::new(s, &contest, now))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "submissions": submissions })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    limit: Option<i64>,
    after: Option<Uuid>,
}

#[derive(Serialize)]
struct Page {
    submissions: Vec<NamedSubmission>,
    next: Option<Uuid>,
}

/// Most rows in one page, and rows per database read when writing the CSV.
const MAX_PAGE: i64 = 1000;

/// Admin list, paged with `after`; `Accept: text/csv` gives the whole list as CSV.
async fn list(
    _admin: Admin,
    req: HttpRequest,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    runtime.ask(id, GetContest { student: None }).await??;
    let query: PageQuery = parse_query(&req)?;
    if wants_csv(&req) {
        return csv(&store, id).await;
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    let mut submissions = store.submissions_page(id, query.after, limit + 1).await?;
    let next = if submissions.len() as i64 > limit {
        submissions.truncate(limit as usize);
        submissions.last().map(|s| s.submission.id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(Page { submissions, next }))
}

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

async fn csv(store: &Store, contest_id: Id) -> Result<HttpResponse, ApiError> {
    let mut out = String::from("id,student_id,username,score,max_score,submitted_at,answers\n");
    let mut after = None;
    loop {
        let page = store.submissions_page(contest_id, after, MAX_PAGE).await?;
        for s in &page {
            let answers = serde_json::to_string(&s.submission.answers).unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                s.submission.id,
                s.submission.student_id,
                csv_field(&s.username),
                s.submission.score,
                s.submission.max_score,
                s.submission
                    .submitted_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                csv_field(&answers),
            ));
        }
        match page.last() {
            Some(last) if page.len() as i64 == MAX_PAGE => after = Some(last.submission.id),
            _ => break,
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .body(out))
}

/// Quotes a CSV field when it holds a comma, a quote or a line break.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    limit: Option<i64>,
}

#[derive(Serialize)]
struct LeaderboardEntry {
    rank: usize,
    student_id: Id,
    username: String,
    score: i64,
    submitted_at: DateTime<Utc>,
}

/// Admins any time; students enrolled in the course once the contest is closed.
async fn leaderboard(
    caller: Caller,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let student = (!caller.is_admin()).then_some(caller.user.id);
    let view = runtime.ask(id, GetView { student }).await??;
    let query: LimitQuery = parse_query(&req)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    let status = ContestStatus::at(view.start_time, view.end_time, model::now());
    if student.is_some() && status != ContestStatus::Closed {
        return Err(ApiError::Forbidden(
            "the leaderboard opens to students when the contest closes".into(),
        ));
    }
    let entries: Vec<LeaderboardEntry> = store
        .leaderboard(id, limit)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, row)| LeaderboardEntry {
            rank: i + 1,
            student_id: row.student_id,
            username: row.username,
            score: row.score,
            submitted_at: row.submitted_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "entries": entries })))
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field(r#"[{"q":1}]"#), r#""[{""q"":1}]""#);
    }
}
