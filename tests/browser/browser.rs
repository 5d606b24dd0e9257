//! The pages in a real browser: Debian's `chromium` driven through `chromium-driver` over
//! WebDriver (fantoccini), against a real server. Each test starts its own chromedriver (on a
//! free port) and headless chromium (with a fresh profile), like the server. Missing browser:
//! the tests skip with a message, unless `CONTESTD_TEST_REQUIRE_BROWSER=1` (CI) makes that a
//! failure. Screenshots go to `target/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::{free_port, TestApp};

both_databases!(the_pages_run_under_their_own_policy);

/// Both pages load their one stylesheet and one script under the strict CSP, and the script
/// runs (it fills `#app`): nothing the policy blocks is needed.
async fn the_pages_run_under_their_own_policy(app: &TestApp) {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    for (page, name) in [("/", "smoke-student"), ("/admin", "smoke-admin")] {
        browser.open(app, page).await;
        browser.find("#app").await;
        browser
            .wait_until(
                &format!("{page} renders"),
                Duration::from_secs(10),
                "document.getElementById('app').textContent.trim().length > 0",
            )
            .await;
        let styled = browser
            .client
            .execute("return getComputedStyle(document.body).fontFamily;", vec![])
            .await
            .expect("a computed style");
        assert!(
            styled
                .as_str()
                .is_some_and(|f| !f.is_empty() && f != "\"Times New Roman\""),
            "{page}: the stylesheet applies: {styled}"
        );
        browser.screenshot(name).await;
    }
    // At 320 px (a phone) and 640 px (a 1280 px window at 200% zoom) nothing scrolls sideways.
    for width in [640, 320] {
        for (page, name) in [("/", "smoke-student"), ("/admin", "smoke-admin")] {
            browser.open(app, page).await;
            browser.find("#app").await;
            browser.assert_fits(width, name).await;
        }
    }
}

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// A browser session; dropping it ends the session's processes.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver takes its chromium with it.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Whether the browser is installed; `false` (skip) unless `CONTESTD_TEST_REQUIRE_BROWSER=1`.
fn available() -> bool {
    if Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var("CONTESTD_TEST_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!(
            "CONTESTD_TEST_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing \
             (apt-get install chromium chromium-driver)"
        );
    }
    eprintln!("skipped: chromium or chromium-driver not installed");
    false
}

impl Browser {
    /// A headless chromium of this window size, or `None` when the browser is missing.
    pub async fn start(width: u32, height: u32) -> Option<Browser> {
        if !available() {
            return None;
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::rustls()
                .expect("a TLS connector")
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                // chromedriver is still starting.
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no WebDriver session at {url}: {e}"),
            }
        };
        Some(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    pub async fn open(&self, app: &TestApp, path: &str) {
        let url = format!("{}{path}", app.address);
        self.client.goto(&url).await.expect("the page opens");
    }

    /// The element matching `css`, waiting up to 10 s for it.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} within 10 s: {e}"))
    }

    /// Polls the JavaScript expression `script` until its value is neither `null` nor `false`,
    /// and returns it.
    pub async fn wait_until(
        &self,
        what: &str,
        within: Duration,
        script: &str,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let value = self
                .client
                .execute(&format!("return ({script});"), vec![])
                .await
                .unwrap_or_else(|e| panic!("{script}: {e}"));
            if !(value.is_null() || value == json!(false)) {
                return value;
            }
            if Instant::now() >= deadline {
                panic!("{what}: not within {within:?} ({script} = {value})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot as `target/screenshots/NAME.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshots folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    /// Runs a Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`).
    pub async fn cdp(&self, cmd: &'static str, params: serde_json::Value) -> serde_json::Value {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    /// The remaining time the page's countdown shows (`#countdown`'s `data-remaining-ms`).
    pub async fn countdown_ms(&self) -> i64 {
        let v = self
            .client
            .execute(
                "return Number(document.getElementById('countdown').dataset.remainingMs);",
                vec![],
            )
            .await
            .expect("the countdown");
        v.as_f64().unwrap_or(f64::NAN) as i64
    }

    /// Lays the current page out `width` CSS pixels wide, checks nothing scrolls sideways,
    /// takes a screenshot `NAME-WIDTH`, then goes back to the window's own size.
    pub async fn assert_fits(&self, width: u32, name: &str) {
        self.phone_width(width).await;
        let wide = self
            .client
            .execute("return document.documentElement.scrollWidth;", vec![])
            .await
            .expect("the page's width");
        assert!(
            wide.as_f64().is_some_and(|w| w <= f64::from(width)),
            "{name} at {width} px: {wide} px wide"
        );
        self.screenshot(&format!("{name}-{width}")).await;
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
    }

    /// Lays the page out as on a phone `width` CSS pixels wide (headless windows do not go
    /// below 500 px).
    pub async fn phone_width(&self, width: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": 800, "deviceScaleFactor": 1, "mobile": true }),
        )
        .await;
    }
}

/// A DevTools command for chromedriver's `goog/cdp/execute` endpoint.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}
