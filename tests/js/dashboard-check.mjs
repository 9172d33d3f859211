// Opens the RobotPG dashboard in headless Chromium (Debian's, driven by playwright-core) while a robot
// learns, and checks what a person would: the robot is listed, its status reads "online", and the return
// chart gains points while the page is open; reports the lockstep-waits tile. Saves a screenshot. Prints one JSON line; exits 1 with one
// error line on failure.
//   node dashboard-check.mjs URL ROBOT_ID SCREENSHOT.png
import { chromium } from "playwright-core";

const [url, robotId, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  const item = page.locator(`#robots li[data-robot="${robotId}"]`);
  await item.waitFor({ timeout: 20000 });
  await item.click();
  await page.locator(`#robots li[data-robot="${robotId}"] .status.online`).waitFor({ timeout: 20000 });
  const listed = await item.locator(".status").textContent();
  const tile = await page.locator("#t-status [data-status]").textContent();
  await page.waitForFunction(() => window.robotpgDashboard.chartPoints("return") > 0, null, { timeout: 30000 });
  const before = await page.evaluate(() => window.robotpgDashboard.chartPoints("return"));
  await page.waitForFunction((n) => window.robotpgDashboard.chartPoints("return") > n, before, { timeout: 30000 });
  const after = await page.evaluate(() => window.robotpgDashboard.chartPoints("return"));
  // The controller's telemetry comes at its own rate (2 Hz), later than the first episodes in lockstep: wait for it.
  await page.waitForFunction(() => document.getElementById("t-waits").textContent !== "–", null, { timeout: 30000 });
  const waits = await page.locator("#t-waits").textContent();
  // Let one more frame draw before the picture.
  await page.waitForTimeout(500);
  await page.screenshot({ path: screenshot, fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log(JSON.stringify({ robot: robotId, listedStatus: listed, tileStatus: tile, returnPointsBefore: before, returnPointsAfter: after, waitsTile: waits }));
} catch (e) {
  console.error(`dashboard-check: ${e.message.split("\n")[0]}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
