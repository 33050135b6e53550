/* mkdocs-material's inline globals (partials/javascripts/base.html, MIT, Martin Donath),
   moved to a file by sealbook so pages carry a Content-Security-Policy without inline scripts.
   The scope is the site root: two folders up from this file. */
__md_scope=new URL("../../",document.currentScript.src),__md_hash=e=>[...e].reduce(((e,_)=>(e<<5)-e+_.charCodeAt(0)),0),__md_get=(e,_=localStorage,t=__md_scope)=>JSON.parse(_.getItem(t.pathname+"."+e)),__md_set=(e,_,t=localStorage,a=__md_scope)=>{try{t.setItem(a.pathname+"."+e,JSON.stringify(_))}catch(e){}};
