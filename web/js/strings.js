// Every string the pages show, by key. `{name}` in a string is replaced by `vars.name`.
export const STRINGS = {
  loading: 'Loading…',
  appName: 'contestd',
  pageTitle: '{title} — contestd',
  skipToContent: 'Skip to content',

  // Signing in and out
  signInTitle: 'Sign in',
  username: 'Username',
  password: 'Password',
  signIn: 'Sign in',
  signingIn: 'Signing in…',
  signOut: 'Sign out',
  signedInAs: 'Signed in as {username}',
  wrongCredentials: 'Wrong username or password.',
  tooManyAttempts: 'Too many attempts. Wait a minute, then try again.',
  sessionExpired: 'Your session has ended. Please sign in again.',
  adminHint: 'Teachers: the console is at /admin.',
  adminLink: 'Open the teacher’s console',

  // Errors
  networkError: 'The server cannot be reached. Check your connection and try again.',
  unavailable: 'The server is busy. Please try again in a moment.',
  notFound: 'This contest does not exist or is not available.',
  notEnrolled: 'You are not enrolled in this contest’s course.',
  forbidden: 'You may not do this.',
  genericError: 'Something went wrong: {message}',
  retry: 'Try again',

  // My contests
  myContests: 'My contests',
  noContests: 'You have no contests yet.',
  statusUpcoming: 'Upcoming',
  statusOpen: 'Open',
  statusClosed: 'Closed',
  startsAt: 'Starts',
  endsAt: 'Ends',
  startsIn: 'Starts in {time}',
  endsIn: 'Ends in {time}',
  submitted: 'Submitted',
  submittedAuto: 'Submitted automatically',
  notSubmitted: 'Not submitted',
  scoreOf: 'Score: {score} / {max}',
  resultsLater: 'Results after the contest closes',
  backToList: '← My contests',

  // Time
  durationDays: '{d} d {h}:{m}:{s}',
  durationHours: '{h}:{m}:{s}',
  durationMinutes: '{m}:{s}',
  countdownStartsIn: 'Starts in {time}',
  countdownTimeLeft: 'Time left: {time}',
  countdownEnded: 'Time is up',
  yourWindow: 'Your time',
  windowRange: '{start} – {end}',

  // Connection
  connectionLive: 'Live',
  connectionReconnecting: 'Reconnecting…',
  connectionLabel: 'Connection to the server',

  // Contest page
  contestUpcoming: 'The contest has not started yet. The questions appear here when it opens.',
  contestClosed: 'This contest is closed.',
  noSubmission: 'You did not submit anything for this contest.',
  questionHeading: 'Question {n}',
  points: '{n} points',
  point: '1 point',
  questionsHeading: 'Questions',
  numericLabel: 'Your answer (a number)',
  numericInvalid: 'Enter a number, for example 9.81.',
  textLabel: 'Your answer',
  chooseOne: 'Choose one answer.',
  chooseAny: 'Choose all answers that apply.',
  partialScoring: 'Partial credit is given.',
  textHint: 'Up to 1,000 characters.',

  // Saving
  saveNothing: 'No answers saved yet',
  saveSaved: 'Saved at {time}',
  saveSaving: 'Saving…',
  saveError: 'Not saved, retrying',
  saveRejected: 'Not saved: {message}',
  saveClosed: 'The time is over: answers can no longer be changed.',

  // Submitting
  submit: 'Submit answers',
  submitting: 'Submitting…',
  confirmTitle: 'Submit your answers?',
  confirmText: 'You can submit only once. After submitting, you cannot change your answers.',
  unansweredIntro: 'These questions have no answer:',
  allAnswered: 'Every question has an answer.',
  confirmSubmit: 'Submit now',
  cancel: 'Keep working',
  submitFailed: 'Not submitted: {message}',
  submitNotOpen: 'Not submitted: the contest is not open for you.',

  // Receipt
  receiptTitle: 'Your submission',
  receiptId: 'Submission id',
  receiptTime: 'Submitted at',
  receiptJson: 'Receipt',
  receiptHelp: 'Keep this receipt: it proves what you submitted and when.',
  copyReceipt: 'Copy receipt',
  copied: 'Receipt copied.',
  copyFailed: 'Could not copy. Select the receipt text and copy it by hand.',
  score: 'Score',
  scoreValue: '{score} / {max}',
  scorePending: 'Your score will be shown after the contest closes.',
  autoSubmitted: 'Your saved answers were submitted automatically when your time ran out.',
  regraded: 'The answer key was corrected; your score has been updated.',
  yourAnswers: 'Your answers',
  noAnswer: 'No answer',
  waitingAuto: 'Checking whether your saved answers were submitted…',

  // Announcements
  announcements: 'Announcements',
  noAnnouncements: 'No announcements.',

  // Warnings
  warningMinutes: '{n} minutes left.',
  warningMinute: '1 minute left.',
};

export function t(key, vars) {
  let text = STRINGS[key] ?? key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  }
  return text;
}
