<?php
// Laravel's bcrypt hasher is PHP's password_* API at cost 12 (Laravel 11's
// BCRYPT_ROUNDS): Hash::make is password_hash, Hash::check password_verify,
// Hash::needsRehash password_needs_rehash, and its algorithm check reads
// password_get_info. For tests/frameworks.sh:
//   php laravel.php hash PASSWORD        prints a hash
//   php laravel.php check PASSWORD HASH  prints accepted or refused
//   php laravel.php info HASH            prints the algorithm and needs_rehash=yes|no
$options = ['cost' => 12];
switch ($argv[1] ?? '') {
    case 'hash':
        echo password_hash($argv[2], PASSWORD_BCRYPT, $options), "\n";
        break;
    case 'check':
        echo password_verify($argv[2], $argv[3]) ? 'accepted' : 'refused', "\n";
        break;
    case 'info':
        $rehash = password_needs_rehash($argv[2], PASSWORD_BCRYPT, $options);
        echo password_get_info($argv[2])['algoName'], ' needs_rehash=', $rehash ? 'yes' : 'no', "\n";
        break;
    default:
        fwrite(STDERR, "usage: laravel.php hash|check|info ...\n");
        exit(2);
}
