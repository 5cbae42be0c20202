//! The typed losses, one line per catalogue entry in LOSSES.md's order: the parameters as the
//! catalogue lists them (src/losses/tests.rs fails when the two differ). Numbers are f64
//! (the catalogue's defaults exactly), class labels i64, a parameter that is off unless given
//! an `Option`, a choice of words an enum.

words! {
    /// A GAN discriminator's loss (`kind` of gan_discriminator, stargan_discriminator).
    ///
    /// ```
    /// use gpu_loss::{losses::{DiscriminatorKind, GanDiscriminator}, ParamValue, TypedLoss};
    /// let d = GanDiscriminator { kind: DiscriminatorKind::Hinge, ..Default::default() };
    /// assert_eq!(d.params()[0], ("kind", ParamValue::Word("hinge".into())));
    /// ```
    DiscriminatorKind {
        Standard = "standard",
        Lsgan = "lsgan",
        Wgan = "wgan",
        Hinge = "hinge",
    }
}

words! {
    /// A GAN generator's loss (`kind` of gan_generator, `gan` of the image-to-image objectives).
    ///
    /// ```
    /// use gpu_loss::losses::{CycleGanGenerator, GeneratorKind, Pix2PixGenerator};
    /// assert_eq!(CycleGanGenerator::default().gan, GeneratorKind::Lsgan); // the catalogue's defaults
    /// assert_eq!(Pix2PixGenerator::default().gan, GeneratorKind::NonSaturating);
    /// ```
    GeneratorKind {
        NonSaturating = "non_saturating",
        Minimax = "minimax",
        Lsgan = "lsgan",
        Wgan = "wgan",
        Hinge = "hinge",
    }
}

words! {
    /// ssim's padding: pytorch_msssim's `valid` windows, or the 3DGS code's zero padding `same`.
    ///
    /// ```
    /// use gpu_loss::{losses::{Padding, Ssim}, ParamValue, TypedLoss};
    /// let same = Ssim { padding: Padding::Same, ..Default::default() };
    /// assert_eq!(same.params().last(), Some(&("padding", ParamValue::Word("same".into()))));
    /// ```
    Padding {
        Valid = "valid",
        Same = "same",
    }
}

typed_losses! {
    Mse = "mse" {}
    Mae = "mae" {}
    SmoothL1 = "smooth_l1" { beta: f64 = 1.0 }
    Huber = "huber" { delta: f64 = 1.0 }
    Charbonnier = "charbonnier" { eps: f64 = 1e-3 }
    Msle = "msle" {}
    LogCosh = "log_cosh" {}
    Cauchy = "cauchy" { c: f64 = 1.0 }
    Mape = "mape" {}
    GaussianNll = "gaussian_nll" { eps: f64 = 1e-6, full: bool = false }
    PoissonNll = "poisson_nll" { log_input: bool = true, full: bool = false, eps: f64 = 1e-8 }
    Bce = "bce" {}
    BceWithLogits = "bce_with_logits" {}
    Hinge = "hinge" {}
    SquaredHinge = "squared_hinge" {}
    Focal = "focal" { alpha: f64 = 0.25, gamma: f64 = 2.0 }
    SoftMargin = "soft_margin" {}
    KlDiv = "kl_div" { log_input: bool = true, log_target: bool = false }
    CrossEntropy = "cross_entropy" {
        ignore_index: i64 = -100,
        label_smoothing: f64 = 0.0,
        z_loss: f64 = 0.0,
        softcap: Option<f64> = None,
    }
    Nll = "nll" { ignore_index: i64 = -100 }
    SparseCategoricalCrossEntropy = "sparse_categorical_cross_entropy" {
        ignore_class: Option<i64> = None,
    }
    JsDiv = "js_div" { beta: f64 = 0.5, log_input: bool = false }
    CosineSimilarity = "cosine_similarity" { eps: f64 = 1e-7 }
    Dice = "dice" {}
    CategoricalCrossEntropy = "categorical_cross_entropy" { label_smoothing: f64 = 0.0 }
    CosineEmbedding = "cosine_embedding" { margin: f64 = 0.0 }
    TripletMargin = "triplet_margin" { margin: f64 = 1.0, p: f64 = 2.0, eps: f64 = 1e-6, swap: bool = false }
    GanDiscriminator = "gan_discriminator" {
        kind: DiscriminatorKind = DiscriminatorKind::Standard,
        from_logits: bool = true,
    }
    GanGenerator = "gan_generator" {
        kind: GeneratorKind = GeneratorKind::NonSaturating,
        from_logits: bool = true,
    }
    Pix2PixGenerator = "pix2pix_generator" {
        lambda: f64 = 100.0,
        gan: GeneratorKind = GeneratorKind::NonSaturating,
        from_logits: bool = true,
    }
    CycleGanGenerator = "cyclegan_generator" {
        lambda: f64 = 10.0,
        rho: f64 = 5.0,
        gan: GeneratorKind = GeneratorKind::Lsgan,
        from_logits: bool = true,
    }
    StarGanGenerator = "stargan_generator" {
        lambda_cls: f64 = 1.0,
        lambda_rec: f64 = 10.0,
        gan: GeneratorKind = GeneratorKind::NonSaturating,
        from_logits: bool = true,
    }
    StarGanDiscriminator = "stargan_discriminator" {
        lambda_cls: f64 = 1.0,
        kind: DiscriminatorKind = DiscriminatorKind::Standard,
        from_logits: bool = true,
    }
    Splatting = "splatting" { lambda: f64 = 0.2 }
    TotalVariation = "total_variation" { power: f64 = 1.0 }
    Wasserstein1d = "wasserstein_1d" { dx: f64 = 1.0 }
    Wasserstein1dSamples = "wasserstein_1d_samples" {}
    Gram = "gram" {}
    StyleLoss = "style_loss" {}
    Ssim = "ssim" {
        window: u32 = 11,
        sigma: f64 = 1.5,
        k1: f64 = 0.01,
        k2: f64 = 0.03,
        data_range: f64 = 1.0,
        padding: Padding = Padding::Valid,
    }
    MsSsim = "ms_ssim" { window: u32 = 11, sigma: f64 = 1.5, k1: f64 = 0.01, k2: f64 = 0.03, data_range: f64 = 1.0 }
    Psnr = "psnr" { data_range: f64 = 1.0 }
}
