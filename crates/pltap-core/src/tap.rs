//! [`Tap`]: an open tun/tap descriptor with its name, mode and framing, and the
//! nonblocking frame I/O on it.

use crate::error::{Errno, Error, Result};
use crate::frame::{self, TUN_PI_LEN, TunPi};
use crate::iface::{self, Iface, MacAddr};
use crate::ifname::IfName;
use crate::sys::{self, IfReq, linux};

pub use crate::frame::Mode;
use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, RwLock};

/// How [`Tap::open`] creates a device.
#[derive(Clone, Debug)]
pub struct TapOptions {
    /// TAP or TUN.
    pub mode: Mode,
    /// Exact name or `%d` template; `None` means `tap%d` / `tun%d`.
    pub name: Option<IfName>,
    /// Keep the 4-byte `tun_pi` prefix (`false` sets `IFF_NO_PI`).
    pub packet_info: bool,
    /// `IFF_VNET_HDR`: every frame carries a virtio-net header (offload.md §1.2). The header
    /// size is then set to [`crate::vnet::VNET_HDR_LEN`] explicitly; the offload set is the
    /// caller's ([`Tap::set_offload`]).
    pub vnet_hdr: bool,
}

impl Default for TapOptions {
    fn default() -> TapOptions {
        TapOptions { mode: Mode::Tap, name: None, packet_info: false, vnet_hdr: false }
    }
}

/// How many frames a burst read ([`Tap::recv_burst`]) stored and discarded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BurstCount {
    /// Frames stored.
    pub frames: usize,
    /// Frames the kernel cut short because they did not fit; they were discarded.
    pub truncated: usize,
}

/// An open tun/tap device.
///
/// The descriptor is nonblocking and close-on-exec; the device (unless made persistent
/// by someone else) disappears when the last descriptor to it closes.
///
/// ```no_run
/// use pltap_core::{Tap, TapOptions};
/// let tap = Tap::open(&TapOptions::default())?;
/// println!("created {}", tap.name());
/// let mut buf = vec![0u8; tap.rx_capacity()?];
/// match tap.recv(&mut buf)? {
///     Some(len) => println!("frame of {len} bytes"),
///     None => println!("nothing queued"),
/// }
/// # Ok::<(), pltap_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Tap {
    file: File,
    name: IfName,
    mode: Mode,
    packet_info: bool,
    /// The vnet header size on the descriptor; 0 without `IFF_VNET_HDR`.
    vnet_hdr_sz: usize,
    /// The control socket of the device's namespace (replaced when the device moves).
    ctl: RwLock<Arc<OwnedFd>>,
}

impl Tap {
    /// Creates a device through `/dev/net/tun` and `ioctl(TUNSETIFF)`.
    pub fn open(opts: &TapOptions) -> Result<Tap> {
        Self::open_with(opts, 0)
    }

    /// [`Tap::open`] with `extra_flags` added to the `TUNSETIFF` flags (the multi-queue
    /// code in `crate::queue` passes `IFF_MULTI_QUEUE`).
    pub(crate) fn open_with(opts: &TapOptions, extra_flags: i16) -> Result<Tap> {
        let template = match &opts.name {
            Some(n) => n.clone(),
            None => IfName::new(&format!("{}%d", opts.mode.as_str()))?,
        };
        let ctl = iface::control_socket()?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|e| Error::os("open /dev/net/tun", "open", e))?;
        let mut ifr = IfReq::new(template.to_ifr_name());
        let mut flags = opts.mode.tun_flag() | extra_flags;
        if !opts.packet_info {
            flags |= linux::IFF_NO_PI;
        }
        if opts.vnet_hdr {
            flags |= sys::vnet::IFF_VNET_HDR;
        }
        ifr.set_flags(flags);
        sys::ioctl_ifreq(file.as_fd(), linux::TUNSETIFF, &mut ifr)
            .map_err(|e| Error::os(format!("TUNSETIFF {template}"), "ioctl", e))?;
        let name = IfName::from_kernel(&ifr.name)?;
        let mut tap =
            Tap { file, name, mode: opts.mode, packet_info: opts.packet_info, vnet_hdr_sz: 0, ctl: RwLock::new(ctl) };
        if opts.vnet_hdr {
            tap.init_vnet(Some(crate::vnet::VNET_HDR_LEN))?;
        }
        Ok(tap)
    }

    /// Sets (`Some`) or reads (`None`) the vnet header size and sets little-endian headers;
    /// the descriptor has `IFF_VNET_HDR`. The size is device-wide and survives a re-attach
    /// (offload.md §1.7), so it is set explicitly, never assumed.
    fn init_vnet(&mut self, size: Option<usize>) -> Result<()> {
        let fd = self.file.as_fd();
        let op = |what: &str| format!("{what} {}", self.name);
        if let Some(size) = size {
            sys::vnet::tun_set_vnet_hdr_sz(fd, size).map_err(|e| Error::os(op("TUNSETVNETHDRSZ"), "ioctl", e))?;
        }
        let size = sys::vnet::tun_get_vnet_hdr_sz(fd).map_err(|e| Error::os(op("TUNGETVNETHDRSZ"), "ioctl", e))?;
        if size < crate::vnet::VNET_HDR_LEN {
            return Err(Error::errno(op("TUNGETVNETHDRSZ: size below 10"), "ioctl", Errno::from_raw(libc::EINVAL)));
        }
        // Only kernels with CONFIG_TUN_VNET_CROSS_LE on a big-endian host care; a refusal
        // on a little-endian host changes nothing.
        if let Err(e) = sys::vnet::tun_set_vnet_le(fd, true)
            && cfg!(target_endian = "big")
        {
            return Err(Error::os(op("TUNSETVNETLE"), "ioctl", e));
        }
        self.vnet_hdr_sz = size;
        Ok(())
    }

    /// The vnet header size on the descriptor (10 unless an adopted descriptor's device
    /// says otherwise), or 0 without `IFF_VNET_HDR`.
    ///
    /// ```no_run
    /// use pltap_core::{Tap, TapOptions};
    /// let tap = Tap::open(&TapOptions { vnet_hdr: true, ..TapOptions::default() })?;
    /// assert_eq!(tap.vnet_header_size(), 10);
    /// # Ok::<(), pltap_core::Error>(())
    /// ```
    pub fn vnet_header_size(&self) -> usize {
        self.vnet_hdr_sz
    }

    /// `ioctl(TUNSETOFFLOAD, flags)`: replaces the device's offload set (`TUN_F_*` bits of
    /// [`crate::sys::vnet`]; 0 turns everything off). Device-wide: every descriptor of the
    /// device, and later openers, see it.
    ///
    /// Errors: `EINVAL` for a combination the kernel does not accept.
    #[doc(alias = "TUNSETOFFLOAD")]
    pub fn set_offload(&self, flags: u32) -> Result<()> {
        sys::vnet::tun_set_offload(self.fd(), flags)
            .map_err(|e| Error::os(format!("TUNSETOFFLOAD {flags:#x} {}", self.name), "ioctl", e))
    }

    /// Takes ownership of a descriptor that is already attached to a device (received
    /// from a helper, or inherited). The name and TAP/TUN mode are read back with
    /// `ioctl(TUNGETIFF)`; the framing cannot be (the bit it reports also means
    /// `IFF_NOFILTER`), so the caller states it. The descriptor is made nonblocking.
    ///
    /// Whether the descriptor has `IFF_VNET_HDR` is read from `TUNGETIFF` too (that bit is
    /// reliable), and then the header size from `TUNGETVNETHDRSZ`.
    pub fn adopt(fd: OwnedFd, packet_info: bool) -> Result<Tap> {
        let (name, mode, flags) = tun_get_iff_flags(fd.as_fd())?;
        sys::set_nonblocking(fd.as_fd(), true)
            .map_err(|e| Error::os(format!("set O_NONBLOCK on {name}"), "fcntl", e))?;
        let mut tap = Tap {
            file: File::from(fd),
            name,
            mode,
            packet_info,
            vnet_hdr_sz: 0,
            ctl: RwLock::new(iface::control_socket()?),
        };
        if flags & sys::vnet::IFF_VNET_HDR != 0 {
            tap.init_vnet(None)?;
        }
        Ok(tap)
    }

    /// The kernel's name for the device.
    pub fn name(&self) -> &IfName {
        &self.name
    }

    /// TAP or TUN.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether frames carry the `tun_pi` prefix on the descriptor.
    pub fn packet_info(&self) -> bool {
        self.packet_info
    }

    /// The descriptor as a file, for the vnet header I/O of [`crate::vnet`].
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// The descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// The ioctl handle for this device, in the namespace the device was opened in.
    pub fn iface(&self) -> Iface {
        Iface::with_socket(self.name.clone(), self.ctl.read().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Points [`Tap::iface`] at another namespace's control socket, once the device has
    /// moved there ([`crate::netdev::Netdev::move_to_netns`]).
    pub(crate) fn set_control_socket(&self, ctl: Arc<OwnedFd>) {
        *self.ctl.write().unwrap_or_else(|p| p.into_inner()) = ctl;
    }

    /// `ioctl(fd, SIOCGIFHWADDR)` on the descriptor itself: works even while the
    /// interface is not visible by name to this process (defect A13).
    #[doc(alias = "SIOCGIFHWADDR")]
    pub fn hwaddr(&self) -> Result<MacAddr> {
        let mut ifr = IfReq::new(self.name.to_ifr_name());
        sys::ioctl_ifreq(self.fd(), linux::SIOCGIFHWADDR, &mut ifr)
            .map_err(|e| Error::os(format!("SIOCGIFHWADDR {}", self.name), "ioctl", e))?;
        Ok(MacAddr(ifr.hwaddr()))
    }

    /// `ioctl(fd, SIOCSIFHWADDR)` on the descriptor itself (TAP only: `ENOTSUP` for TUN,
    /// which has no MAC). The address must be unicast.
    #[doc(alias = "SIOCSIFHWADDR")]
    pub fn set_hwaddr(&self, mac: MacAddr) -> Result<()> {
        if self.mode == Mode::Tun {
            let op = format!("set the MAC of TUN device {}", self.name);
            return Err(Error::errno(op, "ioctl", Errno::from_raw(libc::ENOTSUP)));
        }
        let mut ifr = IfReq::new(self.name.to_ifr_name());
        ifr.set_hwaddr(mac.require_unicast()?.0);
        sys::ioctl_ifreq(self.fd(), linux::SIOCSIFHWADDR, &mut ifr)
            .map_err(|e| Error::os(format!("SIOCSIFHWADDR {}", self.name), "ioctl", e))
    }

    /// `ioctl(fd, TUNGETIFF)`: the name and mode the kernel reports for the descriptor now
    /// (`EBADFD` once the device is deleted).
    #[doc(alias = "TUNGETIFF")]
    pub fn tun_get_iff(&self) -> Result<(IfName, Mode)> {
        tun_get_iff(self.fd())
    }

    /// A receive buffer size that fits every frame at the current MTU.
    pub fn rx_capacity(&self) -> Result<usize> {
        Ok(frame::rx_capacity(self.iface().mtu()?, self.mode))
    }

    /// Reads one frame into `buf`, which receives exactly the frame (never the `tun_pi`
    /// header, never trailing bytes; defect A1). `Ok(None)` when nothing is queued.
    ///
    /// Errors: [`Error::Truncated`] when the frame was larger than `buf` (the frame is
    /// consumed); `EBADFD` when the device is gone; other errnos as the kernel says.
    pub fn recv(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        thread_local! {
            // Takes the part of an oversized frame that does not fit `buf`. The tun
            // driver's read returns min(frame length, buffer size) (`tun_chr_read_iter`),
            // so without room past `buf` a cut frame would look like one that fits
            // exactly, and its true length would be lost.
            static OVERFLOW: RefCell<Vec<u8>> = RefCell::new(vec![0; frame::MAX_FRAME]);
        }
        if self.vnet_hdr_sz > 0 {
            return crate::vnet::with_header_scratch(self.vnet_hdr_sz, |hdr| self.recv_vnet(hdr, buf));
        }
        let mut pi = [0u8; TUN_PI_LEN];
        let res = OVERFLOW.with_borrow_mut(|overflow| {
            if self.packet_info {
                (&self.file).read_vectored(&mut [
                    IoSliceMut::new(&mut pi),
                    IoSliceMut::new(buf),
                    IoSliceMut::new(overflow),
                ])
            } else {
                (&self.file).read_vectored(&mut [IoSliceMut::new(buf), IoSliceMut::new(overflow)])
            }
        });
        let n = match res {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(Error::os(format!("read {}", self.name), "read", e)),
        };
        let (len, stripped) = if self.packet_info {
            if n < TUN_PI_LEN {
                return Err(Error::os(
                    format!("read {}: short tun_pi", self.name),
                    "read",
                    io::Error::from_raw_os_error(libc::EIO),
                ));
            }
            (n - TUN_PI_LEN, TunPi::new_unchecked(&pi[..]).truncated())
        } else {
            (n, false)
        };
        // Bytes past `buf` went to the overflow buffer: the frame was cut, and `len` is
        // its true length (a lower bound only if it overran the overflow buffer too,
        // which `TUN_PKT_STRIP` then reports).
        if stripped || len > buf.len() {
            return Err(Error::Truncated { len, capacity: buf.len() });
        }
        Ok(Some(len))
    }

    /// Reads up to `lens.len()` frames until the queue is empty. Frame `i` is stored
    /// at `slab[i * stride..]` and its length in `lens[i]`; truncated frames are
    /// discarded and counted. `slab` must hold `lens.len() * stride` bytes.
    pub fn recv_burst(&self, slab: &mut [u8], stride: usize, lens: &mut [usize]) -> Result<BurstCount> {
        assert!(stride > 0 && slab.len() >= stride * lens.len(), "slab too small for the burst");
        let mut burst = BurstCount::default();
        while burst.frames < lens.len() {
            let at = burst.frames * stride;
            match self.recv(&mut slab[at..at + stride]) {
                Ok(Some(len)) => {
                    lens[burst.frames] = len;
                    burst.frames += 1;
                }
                Ok(None) => break,
                Err(Error::Truncated { .. }) => burst.truncated += 1,
                // Report what was read; the error comes back on the next call.
                Err(_) if burst.frames > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(burst)
    }

    /// Discards every queued frame (reads until `EAGAIN`, bounded by twice the transmit
    /// queue length so a flood cannot keep it busy forever). Returns how many were
    /// discarded. Unlike the original's `rx_drain` (defect 6), this really empties the queue.
    pub fn drain(&self) -> Result<usize> {
        let limit = (self.iface().txqlen().unwrap_or(1000).max(64) as usize) * 2;
        let mut scratch = vec![0u8; frame::MAX_FRAME];
        let mut n = 0;
        while n < limit {
            match self.recv(&mut scratch) {
                Ok(Some(_)) | Err(Error::Truncated { .. }) => n += 1,
                Ok(None) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Writes one frame. `Ok(false)` when the kernel cannot take it now (`EAGAIN`).
    ///
    /// Errors: `EIO` when the interface is down, `EBADFD` when the device is gone,
    /// `EMSGSIZE` for a partial write (never counted as success; defect A14), and
    /// [`Error::InvalidArgument`] for an empty or oversized frame.
    pub fn send(&self, frame: &[u8]) -> Result<bool> {
        if self.vnet_hdr_sz > 0 {
            return self.send_vnet(&[0; crate::vnet::VNET_HDR_LEN], frame);
        }
        if frame.is_empty() || frame.len() > frame::MAX_FRAME {
            return Err(Error::invalid("frame", format!("length {} is not in 1..={}", frame.len(), frame::MAX_FRAME)));
        }
        let hdr = frame::tx_header(frame, self.mode);
        let (res, total) = if self.packet_info {
            ((&self.file).write_vectored(&[IoSlice::new(&hdr), IoSlice::new(frame)]), frame.len() + TUN_PI_LEN)
        } else {
            ((&self.file).write(frame), frame.len())
        };
        match res {
            Ok(n) if n == total => Ok(true),
            Ok(n) => Err(Error::errno(
                format!("write {}: partial write of {n} of {total} bytes", self.name),
                "write",
                Errno::from_raw(libc::EMSGSIZE),
            )),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(Error::os(format!("write {}", self.name), "write", e)),
        }
    }

    /// Waits up to `timeout_ms` until a frame can be read (`POLLIN`); `Ok(false)` on
    /// timeout (or when a signal interrupted the wait).
    pub fn wait_readable(&self, timeout_ms: i32) -> Result<bool> {
        self.wait(sys::POLLIN, timeout_ms)
    }

    /// Waits up to `timeout_ms` until a frame can be written (`POLLOUT`); `Ok(false)` on
    /// timeout (or when a signal interrupted the wait).
    pub fn wait_writable(&self, timeout_ms: i32) -> Result<bool> {
        self.wait(sys::POLLOUT, timeout_ms)
    }

    fn wait(&self, events: i16, timeout_ms: i32) -> Result<bool> {
        let mut rev = [0i16];
        let n = sys::poll(&[(self.fd(), events)], &mut rev, timeout_ms).map_err(|e| Error::os("poll", "poll", e))?;
        Ok(n > 0)
    }

    /// Gives up the descriptor without closing it.
    pub fn into_fd(self) -> OwnedFd {
        OwnedFd::from(self.file)
    }
}

fn tun_get_iff(fd: BorrowedFd<'_>) -> Result<(IfName, Mode)> {
    tun_get_iff_flags(fd).map(|(name, mode, _)| (name, mode))
}

/// `TUNGETIFF`: name, mode and the raw `ifr_flags` (`IFF_VNET_HDR` is reliable there;
/// `0x1000` is not, as it also means `IFF_NOFILTER`).
pub(crate) fn tun_get_iff_flags(fd: BorrowedFd<'_>) -> Result<(IfName, Mode, i16)> {
    let mut ifr = IfReq::default();
    sys::ioctl_ifreq(fd, linux::TUNGETIFF, &mut ifr).map_err(|e| Error::os("TUNGETIFF", "ioctl", e))?;
    let flags = ifr.flags();
    let mode = if flags & linux::IFF_TAP != 0 { Mode::Tap } else { Mode::Tun };
    Ok((IfName::from_kernel(&ifr.name)?, mode, flags))
}
