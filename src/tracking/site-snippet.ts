/**
 * The site snippet, plain ES5-compatible JavaScript with no dependencies. It is
 * served by Tend at /t/s.js with its settings inlined. The page includes it with
 *
 *   <script async src="https://tend.example.com/t/s.js"></script>
 *
 * and may call window.tend.identify({ email }), tend.track(name, props),
 * tend.optOut() and tend.optIn() (calls made before it loads can be queued in
 * window.tend = { q: [['track', 'name', {}]] }).
 */
const SNIPPET_SOURCE = String.raw`(function(w,d,n){"use strict";
var C=__TEND_CONFIG__,VID="tend_vid",OPT="tend_optout",P="tend_id",last=null;
function ck(k){var m=d.cookie.match(new RegExp("(?:^|; )"+k+"=([^;]*)"));return m?decodeURIComponent(m[1]):null}
function sc(k,v,days){d.cookie=k+"="+encodeURIComponent(v)+"; Max-Age="+days*86400+"; Path=/; SameSite=Lax"+(location.protocol==="https:"?"; Secure":"")}
function uuid(){if(w.crypto&&crypto.randomUUID)return crypto.randomUUID();var b=new Uint8Array(16);crypto.getRandomValues(b);b[6]=b[6]&15|64;b[8]=b[8]&63|128;var h=[];for(var i=0;i<16;i++)h.push((b[i]+256).toString(16).slice(1));h=h.join("");return h.slice(0,8)+"-"+h.slice(8,12)+"-"+h.slice(12,16)+"-"+h.slice(16,20)+"-"+h.slice(20)}
function off(){return ck(OPT)==="1"||(C.dnt&&(n.doNotTrack==="1"||w.doNotTrack==="1"||n.globalPrivacyControl===true))}
function vid(){var v=ck(VID);if(!v||!/^[0-9a-f-]{36}$/.test(v))v=uuid();sc(VID,v,395);return v}
function send(path,body){if(off())return;var s=JSON.stringify(body),u=C.e+path;
try{if(n.sendBeacon&&n.sendBeacon(u,new Blob([s],{type:"text/plain"})))return}catch(e){}
if(w.fetch)fetch(u,{method:"POST",body:s,keepalive:true,credentials:"omit",headers:{"content-type":"text/plain"}})["catch"](function(){})}
function ev(type,props,extra){var e={id:uuid(),type:type,url:location.href};if(props)e.props=props;for(var k in extra)if(extra[k])e[k]=extra[k];send("/t/collect",{v:vid(),e:[e]})}
function page(){if(location.href===last)return;var ref=last||d.referrer;last=location.href;ev("page_view",null,{title:d.title,referrer:ref})}
function claim(){var q=location.search;if(q.indexOf(P+"=")<0||!w.URL)return;var u=new URL(location.href),t=u.searchParams.get(P);u.searchParams["delete"](P);
if(w.history&&history.replaceState)history.replaceState(history.state,"",u.toString());if(t)send("/t/identify",{v:vid(),t:t})}
var api={identify:function(o){if(o&&typeof o.email==="string")send("/t/identify",{v:vid(),email:o.email})},
track:function(name,props){ev(String(name),props||null,null)},
optOut:function(){sc(OPT,"1",3650)},optIn:function(){sc(OPT,"",0)},page:page};
var q=w.tend&&w.tend.q||[];w.tend=api;claim();page();
for(var i=0;i<q.length;i++){var c=q[i];if(api[c[0]])api[c[0]].apply(null,c.slice(1))}
function hook(m){var o=history[m];history[m]=function(){var r=o.apply(this,arguments);setTimeout(page,0);return r}}
if(w.history&&history.pushState){hook("pushState");hook("replaceState");w.addEventListener("popstate",page)}
})(window,document,navigator);
`;

export interface SnippetSettings {
  /** Tend's public base URL, where the snippet sends. */
  endpoint: string;
  honorDoNotTrack: boolean;
}

export function renderSnippet(settings: SnippetSettings): string {
  const config = JSON.stringify({ e: settings.endpoint, dnt: settings.honorDoNotTrack });
  return SNIPPET_SOURCE.replace('__TEND_CONFIG__', config);
}
