//! Submitting, reading one's own submissions, and the admin's list and leaderboard.

use std::borrow::Cow;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use futures_util::{future, stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{parse_body, parse_id_list, parse_query, Body};
use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::model::{
    self, Answer, Contest, ContestStatus, DraftRow, Id, Idempotency, Question, ResultsPolicy, Score,
};
use crate::receipts::{self, Receipt, Signer};
use crate::store::{NamedSubmission, Store, StoreError, Submission};
use contestd_actors::grading::{Response, Total};
use contestd_actors::model::Number;
use contestd_actors::Receipt as Accepted;
use contestd_actors::{same_submission, Grader, Refusal};
use contestd_actors::{GetContest, GetDraft, GetOwnSubmission, GetView, PutDraft, Runtime, Submit};

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
    .service(
        web::resource("/contests/{id}/draft")
            .route(web::put().to(put_draft))
            .route(web::get().to(get_draft)),
    )
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
    #[serde(serialize_with = "receipts::serialize_time")]
    submitted_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<Score>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_score: Option<Score>,
    /// A submission made by hand.
    auto: bool,
    receipt: Receipt,
}

/// The header that makes a submission safe to retry.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The `Idempotency-Key` header: absent, or 1–64 of `A-Z a-z 0-9 _ -`, given once.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request("Idempotency-Key must be given once"));
    }
    match value.to_str() {
        Ok(key) if is_idempotency_key(key) => Ok(Some(key.to_string())),
        _ => Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 64 characters of A-Z a-z 0-9 _ -",
        )),
    }
}

fn is_idempotency_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The contest actor checks, claims and grades; the answer comes once the row is committed.
/// The answers hash (for the idempotency check and the receipt) is computed here, on the
/// request's worker, not in the contest's actor.
async fn submit(
    caller: Caller,
    req: HttpRequest,
    runtime: web::Data<Runtime>,
    store: web::Data<Store>,
    signer: web::Data<Signer>,
    path: web::Path<Id>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let student = caller.user.id;
    let parsed =
        idempotency_key(&req).and_then(|key| Ok((key, parse_body::<SubmitRequest>(&body.0)?)));
    let (key, request) = match parsed {
        Ok(parsed) => parsed,
        Err(bad_request) => return Err(resource_first(&runtime, id, student, bad_request).await),
    };
    let answers_hash =
        receipts::answers_hash(&request.answers).map_err(|e| ApiError::Unexpected(e.into()))?;
    let idempotency = Idempotency {
        key,
        answers_hash: Some(answers_hash),
    };
    let answer = runtime
        .ask(
            id,
            Submit {
                student,
                answers: request.answers,
                idempotency: idempotency.clone(),
            },
        )
        .await?;
    let accepted = match answer {
        Ok(accepted) => accepted,
        Err(Refusal::AlreadySubmittedElsewhere) if idempotency.key.is_some() => {
            stored_retry(&store, &runtime, id, student, &idempotency).await?
        }
        Err(refusal) => return Err(refusal.into()),
    };
    // A retry has the same answers hash as the submission it repeats: the same receipt.
    let receipt = signer.receipt(
        accepted.contest_id,
        accepted.student_id,
        accepted.id,
        accepted.submitted_at,
        &answers_hash,
    );
    Ok(HttpResponse::Created().json(SubmitResponse {
        id: accepted.id,
        contest_id: accepted.contest_id,
        student_id: accepted.student_id,
        submitted_at: accepted.submitted_at,
        score: accepted.score.map(|(score, _)| score),
        max_score: accepted.score.map(|(_, max)| max),
        auto: false,
        receipt,
    }))
}

/// A keyed request from a student whose submission only the database knows (this runtime
/// loaded it, or another one wrote it): the original `201` again if the stored row was made
/// with this key and these answers, else `409` (`conflict` for this key with other answers).
async fn stored_retry(
    store: &Store,
    runtime: &Runtime,
    contest_id: Id,
    student: Id,
    asked: &Idempotency,
) -> Result<Accepted, ApiError> {
    let stored = store
        .submission(contest_id, student)
        .await?
        .ok_or(ApiError::AlreadySubmitted)?;
    same_submission(&stored.idempotency(), asked)?;
    let contest = runtime
        .ask(
            contest_id,
            GetContest {
                student: Some(student),
            },
        )
        .await??;
    let immediate = contest.results == ResultsPolicy::Immediate;
    Ok(Accepted {
        id: stored.id,
        contest_id,
        student_id: student,
        submitted_at: stored.submitted_at,
        score: immediate.then_some((stored.score, stored.max_score)),
    })
}

/// The error for a bad request body: the resource comes before the body, so a contest the
/// student cannot see answers its own 404 (or 403), not the 400.
async fn resource_first(runtime: &Runtime, id: Id, student: Id, bad_body: ApiError) -> ApiError {
    let seen = runtime
        .ask(
            id,
            GetContest {
                student: Some(student),
            },
        )
        .await;
    match seen {
        Ok(Ok(_)) => bad_body,
        Ok(Err(refusal)) => refusal.into(),
        Err(e) => e.into(),
    }
}

/// A student's draft as the API shows it.
#[derive(Serialize)]
struct DraftBody<'a> {
    contest_id: Id,
    answers: &'a [Answer],
    saved_at: DateTime<Utc>,
}

impl<'a> From<&'a DraftRow> for DraftBody<'a> {
    fn from(d: &'a DraftRow) -> Self {
        DraftBody {
            contest_id: d.contest_id,
            answers: &d.answers,
            saved_at: d.saved_at,
        }
    }
}

/// Saves the student's draft through the contest actor; the answer comes once it is committed.
async fn put_draft(
    caller: Caller,
    runtime: web::Data<Runtime>,
    path: web::Path<Id>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let student = caller.user.id;
    let request: SubmitRequest = match parse_body(&body.0) {
        Ok(request) => request,
        Err(bad_body) => return Err(resource_first(&runtime, id, student, bad_body).await),
    };
    let draft = runtime
        .ask(
            id,
            PutDraft {
                student,
                answers: request.answers,
            },
        )
        .await??;
    Ok(HttpResponse::Ok().json(DraftBody::from(draft.as_ref())))
}

/// The student's draft, from the contest actor (`404` when there is none, or once submitted).
async fn get_draft(
    caller: Caller,
    runtime: web::Data<Runtime>,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let student = caller.user.id;
    let draft = runtime
        .ask(id, GetDraft { student })
        .await??
        .ok_or_else(|| ApiError::not_found("draft"))?;
    Ok(HttpResponse::Ok().json(DraftBody::from(draft.as_ref())))
}

/// A student's own submission; scores are `null` until results may be shown. Answers are
/// sorted by question, as the receipt's hash covers them.
#[derive(Serialize)]
struct OwnSubmission {
    id: Uuid,
    contest_id: Id,
    student_id: Id,
    #[serde(serialize_with = "receipts::serialize_time")]
    submitted_at: DateTime<Utc>,
    answers: Vec<Answer>,
    score: Option<Score>,
    max_score: Option<Score>,
    auto: bool,
    receipt: Receipt,
}

impl OwnSubmission {
    fn new(
        mut s: Submission,
        contest: &Contest,
        now: DateTime<Utc>,
        signer: &Signer,
    ) -> Result<Self, ApiError> {
        let visible = contest.results_visible(now);
        let receipt = signer
            .receipt_of(&s)
            .map_err(|e| ApiError::Unexpected(e.into()))?;
        s.answers.sort_by_key(|a| a.question_id);
        Ok(OwnSubmission {
            id: s.id,
            contest_id: s.contest_id,
            student_id: s.student_id,
            submitted_at: s.submitted_at,
            answers: s.answers,
            score: visible.then_some(s.score),
            max_score: visible.then_some(s.max_score),
            auto: s.auto,
            receipt,
        })
    }
}

async fn my_submission(
    caller: Caller,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    signer: web::Data<Signer>,
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
    let own = OwnSubmission::new(submission, &contest, model::now(), &signer)?;
    Ok(HttpResponse::Ok().json(own))
}

#[derive(Deserialize)]
struct ContestIdsQuery {
    contest_ids: String,
}

/// Up to 100 receipts to sign: that is done on the blocking pool, off the request workers.
async fn my_submissions_bulk(
    caller: Caller,
    req: HttpRequest,
    store: web::Data<Store>,
    signer: web::Data<Signer>,
) -> Result<HttpResponse, ApiError> {
    let query: ContestIdsQuery = parse_query(&req)?;
    let ids = parse_id_list(&query.contest_ids, "contest_ids", 100)?;
    let now = model::now();
    let found = store.submissions_of(caller.user.id, &ids).await?;
    let submissions = web::block(move || {
        found
            .into_iter()
            .map(|(s, contest)| OwnSubmission::new(s, &contest, now, &signer))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| ApiError::Unexpected(e.into()))??;
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

/// Admin list, paged with `after`; `Accept: text/csv` streams the whole list as CSV.
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

/// The CSV's first columns, in order; two per question follow (`q<id>_answer`, `q<id>_points`).
const CSV_HEADER: [&str; 8] = [
    "id",
    "student_id",
    "username",
    "score",
    "max_score",
    "submitted_at",
    "answers",
    "auto",
];

/// Why a CSV export stopped.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("answers as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<ExportError> for ApiError {
    fn from(err: ExportError) -> Self {
        match err {
            ExportError::Store(e) => e.into(),
            other => ApiError::Unexpected(other.into()),
        }
    }
}

/// Streams the whole list as CSV, one chunk per page of `MAX_PAGE` rows; a page is read only
/// when the server is ready to send it, so memory stays at about one page whatever the size,
/// and no database connection is held while a slow client reads.
///
/// The first page is read before answering, so a database that fails at the start still
/// gets the usual JSON 503. Once the 200 is sent there is no honest way to report a later
/// failure: the stream ends with an error, the connection is closed without the final
/// chunk, and the client sees a truncated download (an incomplete chunked body), never a
/// short file that looks whole.
async fn csv(store: &Store, contest_id: Id) -> Result<HttpResponse, ApiError> {
    let questions: Arc<[Question]> = store
        .contest(contest_id)
        .await?
        .ok_or_else(|| ApiError::not_found("contest"))?
        .questions
        .into();
    let first = store.submissions_page(contest_id, None, MAX_PAGE).await?;
    let head = csv_chunk(Some(&csv_header(&questions)), &questions, &first)?;
    let store = store.clone();
    let rest = stream::try_unfold(next_cursor(&first), move |after| {
        let store = store.clone();
        let questions = questions.clone();
        async move {
            let Some(after) = after else {
                return Ok(None);
            };
            let page = store
                .submissions_page(contest_id, Some(after), MAX_PAGE)
                .await?;
            // A full last page is followed by an empty one. Never send an empty chunk:
            // actix writes it as the chunked body's terminator.
            if page.is_empty() {
                return Ok(None);
            }
            let chunk = csv_chunk(None, &questions, &page)?;
            Ok::<_, ExportError>(Some((chunk, next_cursor(&page))))
        }
    })
    .inspect_err(move |e| {
        tracing::warn!(contest_id, error = %e, "CSV export cut short; the download is truncated");
    });
    let body = stream::once(future::ready(Ok(head))).chain(rest);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .streaming(body))
}

/// Where the next page starts: after the last row of a full page, none after a short one.
fn next_cursor(page: &[NamedSubmission]) -> Option<Uuid> {
    match page.last() {
        Some(last) if page.len() as i64 == MAX_PAGE => Some(last.submission.id),
        _ => None,
    }
}

/// The header row: the fixed columns, then an answer and a points column per question.
fn csv_header(questions: &[Question]) -> Vec<String> {
    CSV_HEADER
        .iter()
        .map(|c| c.to_string())
        .chain(
            questions
                .iter()
                .flat_map(|q| [format!("q{}_answer", q.id), format!("q{}_points", q.id)]),
        )
        .collect()
}

/// One page of rows as CSV (after the header row, if given). Points per question are graded
/// under the current keys, as the scores are.
fn csv_chunk(
    header: Option<&[String]>,
    questions: &[Question],
    rows: &[NamedSubmission],
) -> Result<Bytes, ExportError> {
    let grader = Grader::new(questions);
    let mut out = csv::Writer::from_writer(Vec::new());
    if let Some(header) = header {
        write_row(&mut out, header)?;
    }
    for row in rows {
        let s = &row.submission;
        let mut cells = vec![
            s.id.to_string(),
            s.student_id.to_string(),
            row.username.clone(),
            s.score.to_string(),
            s.max_score.to_string(),
            s.submitted_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            serde_json::to_string(&s.answers)?,
            s.auto.to_string(),
        ];
        for q in questions {
            match s.answers.iter().find(|a| a.question_id == q.id) {
                Some(answer) => {
                    cells.push(answer_cell(&answer.response)?);
                    cells.push(Total(grader.earned(answer)).score().to_string());
                }
                None => cells.extend([String::new(), "0".into()]),
            }
        }
        write_row(&mut out, &cells)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(Bytes::from(bytes))
}

/// An answer as its CSV cell: `2`, `[0,2]`, `3.5`, or the text.
fn answer_cell(response: &Response) -> Result<String, serde_json::Error> {
    Ok(match response {
        Response::Option(o) => o.to_string(),
        Response::Options(o) => serde_json::to_string(o)?,
        Response::Value(v) => serde_json::to_string(&Number(*v))?,
        Response::Text(t) => t.clone(),
    })
}

/// Writes one record, every cell neutralised, then quoted and escaped as CSV needs.
fn write_row<W: std::io::Write, S: AsRef<str>>(
    out: &mut csv::Writer<W>,
    cells: &[S],
) -> csv::Result<()> {
    for cell in cells {
        out.write_field(neutralise(cell.as_ref()).as_bytes())?;
    }
    // An empty record ends the one the fields above started.
    out.write_record(None::<&[u8]>)
}

/// OWASP's defence against CSV injection: a cell that a spreadsheet would read as a formula
/// (it begins with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, which
/// makes it text. A username such as `-A1` is allowed, so this is reachable by any student.
fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
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
    score: Score,
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
    let seen = runtime
        .ask(
            id,
            GetView {
                student,
                opens: false,
            },
        )
        .await??;
    let query: LimitQuery = parse_query(&req)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    // A student with time of their own waits for its end too.
    let now = model::now();
    let working = seen.window.is_some_and(|w| now < w.end_time);
    if student.is_some() && (seen.view.status(now) != ContestStatus::Closed || working) {
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
    use super::{neutralise, write_row};

    #[test]
    fn formula_triggers_are_neutralised() {
        for trigger in ["=", "+", "-", "@", "\t", "\r"] {
            let cell = format!("{trigger}1+1");
            assert_eq!(neutralise(&cell), format!("'{cell}"), "{cell:?}");
        }
        assert_eq!(neutralise("-A1"), "'-A1");
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
    }

    #[test]
    fn ordinary_cells_are_untouched() {
        for cell in [
            "",
            "student0001",
            "a-b=c",
            " =1",
            "'quoted",
            "42",
            "2024-01-01T00:00:00.000Z",
            r#"[{"question_id":1,"option":0}]"#,
        ] {
            assert_eq!(neutralise(cell), cell, "{cell:?}");
        }
    }

    fn row(cells: &[&str]) -> String {
        let mut out = csv::Writer::from_writer(Vec::new());
        write_row(&mut out, cells).unwrap();
        String::from_utf8(out.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn rows_are_neutralised_then_escaped() {
        assert_eq!(row(&["plain", "a,b"]), "plain,\"a,b\"\n");
        assert_eq!(row(&[r#"[{"q":1}]"#, "-x"]), "\"[{\"\"q\"\":1}]\",'-x\n");
        // The quote goes inside the quoted cell, before the formula it disarms.
        assert_eq!(row(&["=a,\"b\""]), "\"'=a,\"\"b\"\"\"\n");
        assert_eq!(row(&["-1\n=2"]), "\"'-1\n=2\"\n");
        assert_eq!(row(&["\r=1"]), "\"'\r=1\"\n");
        assert_eq!(row(&["\t1"]), "'\t1\n");
    }
}
