//! The binding's one `unsafe` module: a libuv poll handle on the event loop of the JS
//! thread that owns it ([`Watch`]), calling a JS function from its callback.
//!
//! # Why `unsafe` is allowed here (and only here)
//!
//! The workspace denies `unsafe_code`; pltap-core keeps its own in `src/sys/`. The `'loop'`
//! wake mode of the receive path (issue 8 item 2) and `write()`'s wait for room watch the
//! device's descriptor from the event loop of the thread that owns the `Rx`, so that a
//! burst reaches JavaScript with one wake-up and no thread hop. That needs three things
//! napi-rs does not wrap, all C calls:
//! - libuv's poll handle (`uv_poll_init`/`uv_poll_start`/`uv_poll_stop`/`uv_close`/
//!   `uv_unref`) on the loop that `napi_get_uv_event_loop` gives (a worker's own loop in a
//!   worker thread);
//! - `napi_make_callback` to call JavaScript from a libuv callback, inside a handle scope:
//!   unlike `napi_call_function` it runs the microtasks afterwards, so the promises the
//!   callback settles (a pending `read()`) resolve at once, not at the next unrelated
//!   callback;
//! - the async cleanup hooks (`napi_add_async_cleanup_hook`), so that an environment that
//!   goes away (a worker that ends or is terminated, the main thread at exit) closes the
//!   handle first and waits for libuv's close callback: a worker's loop must have no open
//!   handle when it is closed, and the handle's memory must outlive libuv's use of it.
//!
//! libuv's functions and the two N-API hook functions are looked up at run time in the
//! host process (`dlsym(RTLD_DEFAULT)`), as napi-rs itself finds N-API's: the node binary
//! exports them. Linking against them instead would leave undefined symbols that break
//! `cargo test` of this crate, and a host without them (another runtime) gets
//! [`Watch::available`] false, so that the facade falls back to the reader thread.
//!
//! # Lifetimes (what keeps each use sound)
//!
//! A [`Watch`] is an `Rc` of a `Block` whose first field is the `uv_poll_t`'s memory
//! (`#[repr(C)]`, so the handle pointer libuv hands back is the block's address). libuv
//! holds one strong count from `uv_poll_init` until its close callback, which gives it
//! back; so the handle's memory lives as long as libuv may touch it, however the JS
//! objects go. Everything that needs the environment (the JS function's reference and
//! the async context) is released in [`Watch::close`], which runs on the JS thread while
//! the environment lives (an explicit close, the owner's finalizer, or the cleanup hook);
//! the close callback touches only Rust memory and the hook's handle. The watched
//! descriptor is a duplicate the block owns (so that several watches of one device in
//! one loop are distinct to libuv, which allows one poll handle per descriptor), closed
//! in `close` right after `uv_close` stopped polling it. Everything here runs on the
//! loop's thread: the types are `!Send`.

#![allow(unsafe_code)]

use crate::error::to_napi;
use napi::bindgen_prelude::*;
use napi::{Env, JsValue, sys};
use pltap_core::Error as CoreError;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::{CStr, c_int, c_void};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::sync::OnceLock;

/// `UV_READABLE`: watch for readability.
pub const READABLE: c_int = 1;
/// `UV_WRITABLE`: watch for room to write.
pub const WRITABLE: c_int = 2;
/// `UV_POLL` in `uv_handle_type`.
const UV_POLL: c_int = 8;
/// Room for a `uv_poll_t` (160 bytes on x86-64 Linux; checked against `uv_handle_size`).
const HANDLE_ROOM: usize = 256;

type PollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCb = unsafe extern "C" fn(handle: *mut c_void);
type CleanupHook = unsafe extern "C" fn(remove_handle: *mut c_void, arg: *mut c_void);

/// The C functions used, found in the host process.
struct Api {
    poll_init: unsafe extern "C" fn(lp: *mut sys::uv_loop_s, handle: *mut c_void, fd: c_int) -> c_int,
    poll_start: unsafe extern "C" fn(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int,
    poll_stop: unsafe extern "C" fn(handle: *mut c_void) -> c_int,
    close: unsafe extern "C" fn(handle: *mut c_void, cb: CloseCb),
    unref: unsafe extern "C" fn(handle: *mut c_void),
    add_cleanup_hook: unsafe extern "C" fn(
        env: sys::napi_env,
        hook: CleanupHook,
        arg: *mut c_void,
        remove_handle: *mut *mut c_void,
    ) -> sys::napi_status,
    remove_cleanup_hook: unsafe extern "C" fn(remove_handle: *mut c_void) -> sys::napi_status,
}

/// Looks `name` up in the process; `None` if absent.
///
/// # Safety
/// `T` must be the function pointer type of the C function named `name`.
unsafe fn symbol<T: Copy>(name: &CStr) -> Option<T> {
    assert_eq!(size_of::<T>(), size_of::<*mut c_void>());
    // SAFETY: dlsym with RTLD_DEFAULT only reads the loaded objects' symbol tables.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    // SAFETY: a non-null symbol address is the function; the caller vouches for `T`
    // (a function pointer, of a pointer's size as asserted).
    (!p.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) })
}

fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        // SAFETY: each type is the C prototype of the named function (uv.h, node_api.h).
        unsafe {
            let handle_size: unsafe extern "C" fn(c_int) -> usize = symbol(c"uv_handle_size")?;
            // SAFETY (of the call): uv_handle_size only reads a table.
            if handle_size(UV_POLL) > HANDLE_ROOM {
                return None;
            }
            Some(Api {
                poll_init: symbol(c"uv_poll_init")?,
                poll_start: symbol(c"uv_poll_start")?,
                poll_stop: symbol(c"uv_poll_stop")?,
                close: symbol(c"uv_close")?,
                unref: symbol(c"uv_unref")?,
                add_cleanup_hook: symbol(c"napi_add_async_cleanup_hook")?,
                remove_cleanup_hook: symbol(c"napi_remove_async_cleanup_hook")?,
            })
        }
    })
    .as_ref()
}

/// A libuv error code (a negative errno on Unix) as the usual SystemError.
fn uv_error(call: &'static str, rc: c_int) -> napi::Error {
    to_napi(CoreError::os(call, call, std::io::Error::from_raw_os_error(-rc)))
}

fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        return Ok(());
    }
    Err(napi::Error::new(Status::GenericFailure, format!("{what} failed (napi status {status})")))
}

#[repr(C, align(16))]
struct HandleMem([u8; HANDLE_ROOM]);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Open,
    /// `uv_close` called; its callback has not run yet.
    Closing,
    Closed,
}

/// What a watch's callback is told.
#[derive(Debug)]
pub enum Event {
    /// The descriptor is ready for what the watch polls for.
    Ready,
    /// libuv reports an error on the descriptor (e.g. `EBADF` for `POLLERR`); polling
    /// has stopped.
    Failed(std::io::Error),
}

type OnEvent = Box<dyn FnMut(&Caller<'_>, Event)>;

/// The poll handle and everything its callbacks use (see the module documentation).
#[repr(C)]
struct Block {
    /// The `uv_poll_t`, first: its address is the block's.
    handle: UnsafeCell<HandleMem>,
    api: &'static Api,
    env: sys::napi_env,
    state: Cell<State>,
    /// Events polled for now (0: stopped).
    events: Cell<c_int>,
    /// The duplicate descriptor libuv polls; closed by `close`.
    fd: RefCell<Option<OwnedFd>>,
    /// The JS function (a reference) and its async context; released by `close`.
    js: Cell<Option<(sys::napi_ref, sys::napi_async_context)>>,
    /// JS calls under way: `close` during one defers the release until it returns.
    calling: Cell<u32>,
    /// The async cleanup hook's handle until it is removed (in the close callback).
    hook: Cell<*mut c_void>,
    on_event: RefCell<Option<OnEvent>>,
}

impl Block {
    fn handle_ptr(&self) -> *mut c_void {
        self.handle.get().cast()
    }

    /// Releases the JS function and the async context (on the JS thread, the environment alive).
    fn release_js(&self) {
        if let Some((func, ctx)) = self.js.take() {
            // SAFETY: both were made in `Watch::new` on this environment, which is alive
            // (see `close`'s callers), and are released once (taken out of the cell).
            unsafe {
                sys::napi_delete_reference(self.env, func);
                sys::napi_async_destroy(self.env, ctx);
            }
        }
    }

    fn close(&self) {
        if self.state.get() != State::Open {
            return;
        }
        self.state.set(State::Closing);
        self.events.set(0);
        // SAFETY: the handle was initialised by `uv_poll_init` and is not closing yet;
        // `uv_close` stops polling at once (so closing the descriptor next is allowed)
        // and calls `on_closed` from a later loop iteration, with the memory still ours.
        unsafe { (self.api.close)(self.handle_ptr(), on_closed) };
        self.fd.borrow_mut().take();
        if self.calling.get() == 0 {
            self.release_js();
        }
    }
}

/// A `Uint8Array` over a new V8-owned `ArrayBuffer` holding a copy of `bytes`: one
/// allocation and no finalizer, unlike a `Buffer` made from Rust memory (which also pays
/// for node's prototype switch). napi-rs 3.13's `Uint8ArraySlice::copy_from` allocates the
/// buffer but does not copy into it, hence this.
pub fn copy_to_js<'env>(env: &Env, bytes: &[u8]) -> Result<Uint8ArraySlice<'env>> {
    let mut view = Uint8ArraySlice::copy_from(env, bytes)?;
    // SAFETY: `view` was just made over a new buffer of `bytes.len()` bytes that no JS
    // code has seen yet: this is the only access to its memory.
    unsafe { view.as_mut() }.copy_from_slice(bytes);
    Ok(view)
}

/// A poll handle on the loop of the JS thread that made it, calling `on_event` on that
/// thread when the descriptor is ready. Closed by [`Watch::close`] (idempotent), or by
/// the environment's teardown. Not `Send`.
pub struct Watch(Rc<Block>);

impl Watch {
    /// Whether the host exports what a watch needs (Node does).
    pub fn available() -> bool {
        api().is_some()
    }

    /// Watches a duplicate of `fd` on `env`'s event loop (not polling until
    /// [`Watch::start`]); `on_event` may call `callback` through its [`Caller`].
    /// `keep_alive: false` unreferences the handle: it does not keep the process alive.
    pub fn new<A: JsValuesTupleIntoVec, R>(
        env: &Env,
        fd: BorrowedFd<'_>,
        callback: &Function<'_, A, R>,
        name: &str,
        keep_alive: bool,
        on_event: impl FnMut(&Caller<'_>, Event) + 'static,
    ) -> Result<Watch> {
        let api = api().ok_or_else(|| {
            napi::Error::new(Status::GenericFailure, "libuv is not available in this runtime".to_string())
        })?;
        let lp = env.get_uv_event_loop()?;
        let dup =
            fd.try_clone_to_owned().map_err(|e| to_napi(CoreError::os("duplicate the descriptor", "fcntl", e)))?;
        let raw_env = env.raw();
        let mut func = std::ptr::null_mut();
        let mut ctx = std::ptr::null_mut();
        // SAFETY: `callback` is a live function value of this environment, in the
        // current handle scope (we are in a JS call); the reference and the async context
        // made here are released once, by `Block::close`.
        unsafe {
            check(sys::napi_create_reference(raw_env, callback.raw(), 1, &mut func), "napi_create_reference")?;
            let mut resource = std::ptr::null_mut();
            let mut rname = std::ptr::null_mut();
            let made = check(sys::napi_create_object(raw_env, &mut resource), "napi_create_object")
                .and_then(|()| {
                    check(
                        sys::napi_create_string_utf8(raw_env, name.as_ptr().cast(), name.len() as isize, &mut rname),
                        "napi_create_string_utf8",
                    )
                })
                .and_then(|()| check(sys::napi_async_init(raw_env, resource, rname, &mut ctx), "napi_async_init"));
            if let Err(e) = made {
                sys::napi_delete_reference(raw_env, func);
                return Err(e);
            }
        }
        let block = Rc::new(Block {
            handle: UnsafeCell::new(HandleMem([0; HANDLE_ROOM])),
            api,
            env: raw_env,
            state: Cell::new(State::Open),
            events: Cell::new(0),
            fd: RefCell::new(None),
            js: Cell::new(Some((func, ctx))),
            calling: Cell::new(0),
            hook: Cell::new(std::ptr::null_mut()),
            on_event: RefCell::new(Some(Box::new(on_event))),
        });
        let raw_fd = dup.as_raw_fd();
        *block.fd.borrow_mut() = Some(dup);
        // SAFETY: `lp` is this thread's live loop; the handle memory is ours, big enough
        // (checked in `api()`), aligned, and does not move (it is inside the Rc).
        let rc = unsafe { (api.poll_init)(lp, block.handle_ptr(), raw_fd) };
        if rc != 0 {
            // Never initialised: nothing of libuv's to close.
            block.state.set(State::Closed);
            block.fd.borrow_mut().take();
            block.release_js();
            return Err(uv_error("uv_poll_init", rc));
        }
        // libuv's strong count, given back by `on_closed`.
        let for_libuv = Rc::into_raw(block.clone());
        debug_assert_eq!(for_libuv.cast::<c_void>(), block.handle_ptr());
        if !keep_alive {
            // SAFETY: an initialised handle.
            unsafe { (api.unref)(block.handle_ptr()) };
        }
        let mut hook = std::ptr::null_mut();
        // SAFETY: `arg` is the block, alive until the hook is removed (in `on_closed`,
        // before libuv's count is given back).
        let status =
            unsafe { (api.add_cleanup_hook)(raw_env, on_teardown, Rc::as_ptr(&block).cast_mut().cast(), &mut hook) };
        if status != sys::Status::napi_ok {
            block.close();
            return Err(napi::Error::new(Status::GenericFailure, "napi_add_async_cleanup_hook failed".to_string()));
        }
        block.hook.set(hook);
        Ok(Watch(block))
    }

    /// Polls for `events` ([`READABLE`], [`WRITABLE`]); no-op once closed or if already so.
    pub fn start(&self, events: c_int) -> Result<()> {
        let b = &self.0;
        if b.state.get() != State::Open || b.events.get() == events {
            return Ok(());
        }
        // SAFETY: an initialised, open handle; `on_poll` matches `uv_poll_cb`.
        let rc = unsafe { (b.api.poll_start)(b.handle_ptr(), events, on_poll) };
        if rc != 0 {
            return Err(uv_error("uv_poll_start", rc));
        }
        b.events.set(events);
        Ok(())
    }

    /// Stops polling (until [`Watch::start`]); no-op once closed.
    pub fn stop(&self) {
        let b = &self.0;
        if b.state.get() != State::Open || b.events.get() == 0 {
            return;
        }
        // SAFETY: an initialised, open handle.
        unsafe { (b.api.poll_stop)(b.handle_ptr()) };
        b.events.set(0);
    }

    /// Stops polling, closes the duplicate descriptor and releases the JS function at
    /// once; libuv frees the handle a loop iteration later. Idempotent. Call on the JS
    /// thread (where the watch was made).
    pub fn close(&self) {
        self.0.close();
    }
}

/// What `on_event` uses: the JS call, and the watch itself.
pub struct Caller<'a> {
    block: &'a Block,
    /// The handle scope of this callback, opened by the first use that makes JS values
    /// (a callback that only does native work, such as a native forward, never enters V8).
    scope: Cell<sys::napi_handle_scope>,
}

impl Caller<'_> {
    /// Opens the callback's handle scope if it is not open yet.
    fn enter(&self) {
        if self.scope.get().is_null() {
            let mut scope = std::ptr::null_mut();
            // SAFETY: on the JS thread, in a libuv callback outside any JS frame: a handle
            // scope of our own for the values made until `on_poll` closes it.
            unsafe { sys::napi_open_handle_scope(self.block.env, &mut scope) };
            self.scope.set(scope);
        }
    }

    /// Calls the watch's JS function with `args` through `napi_make_callback` (so the
    /// microtasks it queues run right after it). An exception it throws becomes an
    /// uncaught exception (`napi_fatal_exception`), as from any event callback. No-op
    /// once the watch is closed.
    pub fn call(&self, args: impl JsValuesTupleIntoVec) -> Result<()> {
        let b = self.block;
        let Some((func, ctx)) = b.js.get() else { return Ok(()) };
        self.enter();
        let argv = match args.into_vec(b.env) {
            Ok(argv) => argv,
            Err(e) => {
                clear_exception(b.env, false);
                return Err(e);
            }
        };
        let mut fv = std::ptr::null_mut();
        let mut recv = std::ptr::null_mut();
        let mut result = std::ptr::null_mut();
        b.calling.set(b.calling.get() + 1);
        // SAFETY: we are on the JS thread inside the callback's handle scope (`enter`); `func`
        // and `ctx` are live (released only when `calling` is back to 0); `argv` holds
        // `argv.len()` values of this scope.
        // (`recv` must be an object: the global one, as for any event callback.)
        let status = unsafe {
            sys::napi_get_reference_value(b.env, func, &mut fv);
            sys::napi_get_global(b.env, &mut recv);
            sys::napi_make_callback(b.env, ctx, recv, fv, argv.len(), argv.as_ptr(), &mut result)
        };
        b.calling.set(b.calling.get() - 1);
        clear_exception(b.env, true);
        if b.state.get() != State::Open && b.calling.get() == 0 {
            b.release_js(); // closed during the call
        }
        check(if status == sys::Status::napi_pending_exception { 0 } else { status }, "napi_make_callback")
    }

    /// The environment the watch calls into (to make the callback's arguments).
    pub fn env(&self) -> Env {
        self.enter();
        Env::from_raw(self.block.env)
    }

    /// Closes the watch (see [`Watch::close`]): a one-shot watch closes itself here.
    pub fn close(&self) {
        self.block.close();
    }
}

impl Drop for Watch {
    /// Closes it (the owner is finalized, on the JS thread).
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Clears an exception left pending (by the JS callback, or a failed conversion), so that
/// it does not leak into unrelated later N-API calls; `fatal` rethrows it as an uncaught
/// exception. Call on the JS thread, in a handle scope.
fn clear_exception(env: sys::napi_env, fatal: bool) {
    let mut pending = false;
    // SAFETY: on the environment's thread, inside the callback's handle scope (`enter`).
    unsafe {
        sys::napi_is_exception_pending(env, &mut pending);
        if pending {
            let mut exc = std::ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut exc);
            if fatal {
                sys::napi_fatal_exception(env, exc);
            }
        }
    }
}

/// `uv_poll_cb`: runs `on_event` on the loop's thread, inside a handle scope opened only
/// if it makes JS values.
unsafe extern "C" fn on_poll(handle: *mut c_void, status: c_int, events: c_int) {
    let block_ptr = handle.cast::<Block>().cast_const();
    // SAFETY: the handle is the first field of a live Block (libuv holds a strong count
    // until `on_closed`); take a count of our own for the duration of the callback.
    let block = unsafe {
        Rc::increment_strong_count(block_ptr);
        Rc::from_raw(block_ptr)
    };
    if block.state.get() != State::Open {
        return;
    }
    let event = if status < 0 {
        block.events.set(0); // libuv stopped the handle
        Event::Failed(std::io::Error::from_raw_os_error(-status))
    } else {
        let _ = events;
        Event::Ready
    };
    let Ok(mut slot) = block.on_event.try_borrow_mut() else { return };
    let Some(mut f) = slot.take() else { return };
    drop(slot);
    let caller = Caller { block: &block, scope: Cell::new(std::ptr::null_mut()) };
    // A panic must not unwind into libuv; the owner catches its own, this is a backstop.
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&caller, event))).is_err() {
        block.close();
    }
    let scope = caller.scope.get();
    if !scope.is_null() {
        // SAFETY: the scope `Caller::enter` opened in this callback.
        unsafe { sys::napi_close_handle_scope(block.env, scope) };
    }
    // Put the callback back unless the watch closed meanwhile (then it goes now, with
    // whatever it holds: nothing of the environment's, see the module documentation).
    if block.state.get() == State::Open {
        *block.on_event.borrow_mut() = Some(f);
    }
}

/// `uv_close_cb`: the handle is free; remove the cleanup hook (or tell the teardown
/// that waits on it that we are done) and give back libuv's strong count.
unsafe extern "C" fn on_closed(handle: *mut c_void) {
    // SAFETY: libuv's strong count from `Watch::new`, given back exactly once (here).
    let block = unsafe { Rc::from_raw(handle.cast::<Block>().cast_const()) };
    block.state.set(State::Closed);
    let hook = block.hook.replace(std::ptr::null_mut());
    if !hook.is_null() {
        // SAFETY: the handle from `napi_add_async_cleanup_hook`, removed once.
        unsafe { (block.api.remove_cleanup_hook)(hook) };
    }
    block.on_event.borrow_mut().take();
}

/// The environment is going away: close (the teardown waits for `on_closed`).
unsafe extern "C" fn on_teardown(_remove_handle: *mut c_void, arg: *mut c_void) {
    // SAFETY: `arg` is the Block, alive until this hook is removed in `on_closed`.
    let block = unsafe { &*arg.cast::<Block>().cast_const() };
    block.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_node_the_loop_mode_is_unavailable() {
        // A cargo test binary exports neither libuv nor N-API: the facade then falls back
        // to the reader thread instead of failing.
        assert!(!Watch::available());
    }

    #[test]
    fn the_handle_is_the_block() {
        // `on_poll` and `on_closed` turn libuv's handle pointer back into the block.
        assert_eq!(std::mem::offset_of!(Block, handle), 0);
        assert!(align_of::<HandleMem>() >= align_of::<*mut c_void>());
    }
}
