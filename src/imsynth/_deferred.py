"""The one list of imports allowed inside functions: optional or heavy third-party dependencies, each imported
only by the code path that needs it. Everything else is imported at the top of its module (a test checks this),
and imsynth's own modules never are deferred: layers import only downward (import-linter checks that)."""

DEFERRED_IMPORTS = {
    "bm3d": "the bm3d denoiser only (0.8-0.9 s to import, measured with -X importtime)",
    "cv2": "16-bit colour image files only (Pillow reduces them to 8 bits); 0.2 s of start-up otherwise",
    "imageio": "GIF and MP4 writing",
    "imageio_ffmpeg": "MP4 writing (ships the ffmpeg binary)",
    "matplotlib": "training curves and plots (0.5 s to import)",
    "scipy": "scattered-data interpolation, Delaunay meshes, shot noise's Poisson quantiles (start-up of every command)",
    "skimage": "projective/similarity transform estimation in warps",
    "sklearn": "the bundled digits dataset (1 s to import)",
    "torch_fidelity": "optional: standard Inception FID from locally present weights",
}
