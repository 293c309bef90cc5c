// livebot: stand-in for @daily-co/daily-js (see package.json). The SmallWebRTC
// transport only touches Daily through its default DailyMediaManager, which the page
// replaces with its own media manager (web/src/media.ts). Any use of it is a bug.
function unavailable() {
  throw new Error("Daily's SDK is not part of this page (livebot uses its own media manager)");
}
const Daily = { getCallInstance: unavailable, createCallObject: unavailable };
export default Daily;
